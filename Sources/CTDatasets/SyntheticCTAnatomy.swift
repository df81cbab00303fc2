import Foundation
import TensorCore

// The random make-up of a synthetic patient and scan. Coordinates are normalised: x and y in [-1, 1] across
// the image, y pointing down (anterior at the top, as in a CT slice); patient's right lung on the image left.
// Lesion geometry is given in a lung's own frame (u, v) where the lung outline is roughly the unit circle,
// so lesions follow the lung as it changes size from apex to base.

/// A patient's body and chest geometry (fixed for all of the patient's scans and slices).
struct SyntheticAnatomy: Sendable {
    var bodyHalfWidth: Float
    var bodyHalfHeight: Float
    var bodyCentreY: Float
    var fatThickness: Float
    var lungCentreX: Float
    var lungCentreY: Float
    var lungHalfWidth: Float
    var lungHalfHeight: Float
    var heartCentreX: Float
    var heartCentreY: Float
    var heartRadius: Float
    /// Base intensity offsets so patients differ slightly (scanner, window).
    var lungLevel: Float
    var tissueLevel: Float
    var textureSeed: UInt64

    init(generator g: inout SeededGenerator) {
        bodyHalfWidth = g.nextUniform(0.80, 0.92)
        bodyHalfHeight = g.nextUniform(0.56, 0.66)
        bodyCentreY = g.nextUniform(0.02, 0.08)
        fatThickness = g.nextUniform(0.04, 0.09)
        lungCentreX = g.nextUniform(0.37, 0.41)
        lungCentreY = bodyCentreY + g.nextUniform(-0.07, -0.02)
        lungHalfWidth = g.nextUniform(0.25, 0.29)
        lungHalfHeight = g.nextUniform(0.38, 0.45)
        heartCentreX = g.nextUniform(0.06, 0.13)
        heartCentreY = bodyCentreY + g.nextUniform(-0.2, -0.1)
        heartRadius = g.nextUniform(0.17, 0.23)
        lungLevel = g.nextUniform(0.07, 0.12)
        tissueLevel = g.nextUniform(0.66, 0.76)
        textureSeed = g.next()
    }

    /// Lung size factor along the cranio-caudal axis: small at the apex (z = 0), full mid-chest.
    func lungScale(z: Float) -> Float { 0.5 + 0.5 * sin(Float.pi / 2 * min(max(z * 1.6, 0), 1)) }
}

/// One lesion in 3-D: a blob in one lung, cut by slices near its centre height.
struct SyntheticLesion: Sendable {
    /// -1: image-left lung (patient's right); +1: image-right lung.
    var side: Float
    /// Centre in the lung frame (unit circle ≈ lung outline).
    var u: Float
    var v: Float
    /// Centre height and half extent along z (slice positions are in [0, 1]).
    var z: Float
    var zExtent: Float
    /// In-plane radius at the centre height, in normalised image units.
    var radius: Float
    /// Radius fraction (0…1) that is consolidation; 0 = pure GGO.
    var coreFraction: Float
    /// Added intensity of the ground-glass haze.
    var hazeStrength: Float
    /// Outline irregularity.
    var roughness: Float
    /// Lobar lesions are cut by a straight fissure: keep points with `dot(p - c, normal) < offset`.
    var fissure: (nx: Float, ny: Float, offset: Float)?
    /// Air bronchograms inside consolidation.
    var bronchograms: Int
    var shapeSeed: UInt64

    /// The in-plane radius at height `sliceZ` (0 if the slice misses the lesion).
    func radius(at sliceZ: Float) -> Float {
        let d = (sliceZ - z) / zExtent
        return abs(d) >= 1 ? 0 : radius * (1 - d * d).squareRoot()
    }
}

/// A scan: its class and lesions (fixed for all of its slices).
struct SyntheticScan: Sendable {
    var label: CTClass
    var lesions: [SyntheticLesion]

    /// Lesions drawn the way the classes differ in the paper's data:
    /// COVID-19 bilateral, peripheral, mostly GGO (some mild scans with little lesion);
    /// common pneumonia mostly unilateral, lobar (large, fissure-bounded), consolidation-dominant;
    /// control none.
    init(label: CTClass, generator g: inout SeededGenerator) {
        self.label = label
        lesions = []
        switch label {
        case .control:
            break
        case .covid19:
            let mild = g.nextUniform() < 0.18
            let count = mild ? 1 + g.nextInt(below: 2) : 2 + g.nextInt(below: 5)
            let firstSide: Float = g.nextUniform() < 0.5 ? -1 : 1
            let bilateral = g.nextUniform() < 0.85
            for i in 0..<count {
                var side = firstSide
                if bilateral && i == 1 { side = -firstSide } else if i > 1 && g.nextUniform() < 0.5 { side = -firstSide }
                // Peripheral: near the outline, mostly lateral and posterior (dependent) lung.
                let angle = Self.peripheralAngle(side: side, generator: &g)
                let rho = g.nextUniform(0.62, 0.95)
                let radius = mild ? g.nextUniform(0.05, 0.1) : g.nextUniform(0.1, 0.26)
                let consolidating = g.nextUniform() < 0.3
                lesions.append(SyntheticLesion(
                    side: side, u: rho * cos(angle), v: rho * sin(angle),
                    z: g.nextUniform(0.15, 0.95), zExtent: g.nextUniform(0.12, 0.3), radius: radius,
                    coreFraction: consolidating ? g.nextUniform(0.15, 0.5) : 0,
                    hazeStrength: g.nextUniform(0.11, 0.3), roughness: g.nextUniform(0.2, 0.45),
                    fissure: nil, bronchograms: 0, shapeSeed: g.next()))
            }
        case .commonPneumonia:
            let side: Float = g.nextUniform() < 0.5 ? -1 : 1
            let bilateral = g.nextUniform() < 0.22
            let count = 1 + (bilateral ? 1 : g.nextInt(below: 2))
            for i in 0..<count {
                let lesionSide = bilateral && i == 1 ? -side : side
                // Lobar: a large blob deep in the lung, bounded by a straight fissure.
                let angle = g.nextUniform(0.1, 0.9) * Float.pi   // lower (posterior) half
                let rho = g.nextUniform(0.15, 0.55)
                let fissureAngle = g.nextUniform(-0.5, 0.5) * Float.pi - Float.pi / 2
                lesions.append(SyntheticLesion(
                    side: lesionSide, u: rho * cos(angle), v: rho * sin(angle),
                    z: g.nextUniform(0.25, 0.95), zExtent: g.nextUniform(0.2, 0.4),
                    radius: (i == 0 ? g.nextUniform(0.2, 0.36) : g.nextUniform(0.1, 0.2)),
                    coreFraction: g.nextUniform() < 0.15 ? g.nextUniform(0.1, 0.35) : g.nextUniform(0.5, 0.85),
                    hazeStrength: g.nextUniform(0.08, 0.2), roughness: g.nextUniform(0.15, 0.35),
                    fissure: g.nextUniform() < 0.75
                        ? (cos(fissureAngle), sin(fissureAngle), g.nextUniform(0.0, 0.12)) : nil,
                    bronchograms: g.nextInt(below: 4), shapeSeed: g.next()))
            }
        }
    }

    /// An angle in the lung frame pointing to its lateral or posterior edge.
    private static func peripheralAngle(side: Float, generator g: inout SeededGenerator) -> Float {
        // Lateral direction is +u for the image-right lung (side +1) and -u for the image-left one.
        let lateral: Float = side > 0 ? 0 : Float.pi
        let spread = g.nextUniform(-0.75, 0.75) * Float.pi
        // Bias towards posterior (+v): pull the angle towards pi/2.
        let angle = lateral + spread
        let posterior = Float.pi / 2
        return g.nextUniform() < 0.45 ? angle + 0.5 * (posterior - angle) : angle
    }

    /// Slice heights: mostly where the lesions are (COVIDx-CT keeps slices that show infection), some anywhere.
    func sliceHeights(count: Int, generator g: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ -> Float in
            if lesions.isEmpty || g.nextUniform() < 0.15 { return g.nextUniform(0.1, 0.95) }
            let lesion = lesions[g.nextInt(below: lesions.count)]
            return min(max(lesion.z + g.nextUniform(-0.6, 0.6) * lesion.zExtent, 0.02), 0.98)
        }.sorted()
    }
}
