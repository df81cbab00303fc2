import Foundation
import TensorCore

/// Draws one synthetic chest CT slice in a lung window, with its 0/1/2/3 mask.
///
/// Intensities are chosen to look like a lung-window slice: air black, lung parenchyma dark grey, vessels and
/// soft tissue light, bone white; GGO is a faint textured haze that leaves vessels visible, consolidation is
/// dense (near soft tissue) with sharper edges and sometimes dark air bronchograms.
struct SyntheticSliceRenderer {
    let size: Int

    /// Output of one slice: 8-bit grey pixels and the mask (0 outside the lungs, 1 lung, 2 GGO, 3 consolidation).
    struct Output {
        var pixels: [UInt8]
        var mask: [UInt8]
    }

    // Lung-window intensity levels.
    private let airLevel: Float = 0.015
    private let boneLevel: Float = 0.96
    private let fatOffset: Float = -0.08

    func render(anatomy a: SyntheticAnatomy, scan: SyntheticScan, z: Float, sliceSeed: UInt64) -> Output {
        let n = size * size
        var value = [Float](repeating: airLevel, count: n)
        var mask = [UInt8](repeating: 0, count: n)
        var patientGenerator = SeededGenerator(seed: a.textureSeed)
        let texture = NoiseField(octaves: [(6, 0.5), (14, 0.3), (32, 0.2)], generator: &patientGenerator)
            .render(size: size)
        let outline = NoiseField(octaves: [(5, 0.7), (11, 0.3)], generator: &patientGenerator).render(size: size)
        var g = SeededGenerator(seed: sliceSeed)
        let grain = NoiseField(octaves: [(max(8, size / 3), 1)], generator: &g).render(size: size)

        let s = a.lungScale(z: z)
        let lungHalfWidth = a.lungHalfWidth * s.squareRoot()
        let lungHalfHeight = a.lungHalfHeight * s
        // The heart appears below the carina at most of its size, then grows to full size.
        let heartScale: Float = z < 0.4 ? 0 : min(0.65 + (z - 0.4) * 1.5, 1)
        let spineY = a.bodyCentreY + a.bodyHalfHeight * 0.6
        let spineRadius: Float = 0.085
        let canalY = spineY + spineRadius * 1.5
        let aortaX: Float = 0.085, aortaY = spineY - 0.15
        let liverLevel: Float = z > 0.78 ? (z - 0.78) * 4.5 : 0     // dome rising into the image-left lung base
        let airwayY = a.lungCentreY - 0.08

        func coordinate(_ i: Int) -> Float { (Float(i) + 0.5) / Float(size) * 2 - 1 }

        // Base pass: body, mediastinum, bones, lungs.
        value.withUnsafeMutableBufferPointer { v in
            mask.withUnsafeMutableBufferPointer { m in
                for row in 0..<size {
                    let y = coordinate(row)
                    for column in 0..<size {
                        let x = coordinate(column)
                        let p = row * size + column
                        let t = texture[p], o = outline[p]
                        // Scanner table: a curved band under the patient.
                        let tableY = a.bodyCentreY + a.bodyHalfHeight + 0.07 + 0.05 * x * x
                        if abs(y - tableY) < 0.012 && abs(x) < 0.85 { v[p] = 0.45 }
                        let by = (y - a.bodyCentreY) / a.bodyHalfHeight, bx = x / a.bodyHalfWidth
                        let q = (bx * bx + by * by).squareRoot() / (1 + 0.02 * o)
                        guard q < 1 && by < 0.95 else { continue }
                        // Skin, subcutaneous fat, then muscle and mediastinal soft tissue.
                        var tissue = a.tissueLevel + 0.04 * t
                        if q > 1 - a.fatThickness / a.bodyHalfHeight && q <= 0.985 { tissue += fatOffset }
                        v[p] = tissue
                        // Heart with its fat rim.
                        // A tilted ellipse: the heart's long axis points anterior-left (image right, up).
                        let hx = x - a.heartCentreX, hy = y - a.heartCentreY
                        let along = 0.8 * hx - 0.6 * hy, across = 0.6 * hx + 0.8 * hy
                        let heartDistance = ((along / 1.15) * (along / 1.15) + (across / 0.85) * (across / 0.85)).squareRoot()
                        let heartRadius = a.heartRadius * heartScale
                        if heartScale > 0 && heartDistance < heartRadius && heartDistance > heartRadius - 0.02 {
                            v[p] = tissue + fatOffset
                        }
                        // Vertebra: cortical ring, cancellous body, canal, posterior arch, spinous process.
                        let sd = (x * x + (y - spineY) * (y - spineY)).squareRoot()
                        if sd < spineRadius { v[p] = sd > spineRadius * 0.8 ? boneLevel : 0.84 + 0.05 * t }
                        let cd = (x * x + (y - canalY) * (y - canalY)).squareRoot()
                        if cd < 0.068 {
                            // Canal, then the arch: pedicles at the sides, lamina behind (not a closed ring in front).
                            if cd < 0.042 { v[p] = tissue - 0.05 } else if y > canalY - 0.02 || abs(x) > 0.035 { v[p] = boneLevel }
                        }
                        if abs(x) < 0.014 + 0.01 * max(0, 1 - (y - canalY - 0.06) / 0.1) && y > canalY + 0.06
                            && y < canalY + 0.16 { v[p] = boneLevel - 0.04 }
                        // Transverse processes.
                        if abs(abs(x) - 0.085) < 0.035 && abs(y - (canalY - 0.005)) < 0.014 { v[p] = boneLevel - 0.06 }
                        // Sternum.
                        let sternumY = a.bodyCentreY - a.bodyHalfHeight + a.fatThickness + 0.06
                        if (x / 0.06) * (x / 0.06) + ((y - sternumY) / 0.028) * ((y - sternumY) / 0.028) < 1 {
                            v[p] = boneLevel - 0.05
                        }
                        // Descending aorta.
                        let ad = ((x - aortaX) * (x - aortaX) + (y - aortaY) * (y - aortaY)).squareRoot()
                        if ad < 0.055 { v[p] = tissue + 0.06 }
                        // Trachea (upper chest) and main bronchi (hilum level).
                        if z < 0.42 {
                            let td = (x * x + (y - airwayY) * (y - airwayY)).squareRoot()
                            if td < 0.055 { v[p] = td < 0.042 ? airLevel + 0.02 : tissue + 0.04 }
                        } else if z < 0.62 {
                            for bxc: Float in [-0.1, 0.1] {
                                let bd = ((x - bxc) * (x - bxc) + (y - airwayY) * (y - airwayY)).squareRoot()
                                if bd < 0.035 { v[p] = bd < 0.025 ? airLevel + 0.02 : tissue + 0.04 }
                            }
                        }
                        // Lungs: ellipses with a wobbly outline, cut by the mediastinum, heart, spine and liver.
                        for side: Float in [-1, 1] {
                            let w = (y - a.lungCentreY) / lungHalfHeight
                            // Wider posteriorly and flatter medially, like the D-shaped lungs of an axial slice.
                            let u = (x - side * a.lungCentreX) / (lungHalfWidth * (1 + 0.12 * w))
                            let r = (u * u + w * w).squareRoot()
                            guard r < 1 + 0.08 * o else { continue }
                            // Inside the chest wall (fat, muscle and ribs stay outside the lung).
                            let wallX = x / (a.bodyHalfWidth - a.fatThickness - 0.06)
                            let wallY = (y - a.bodyCentreY) / (a.bodyHalfHeight - a.fatThickness - 0.05)
                            guard wallX * wallX + wallY * wallY < 1 else { continue }
                            let medial = side * x
                            let mediastinum: Float = 0.075 + 0.06 * max(0, -(y - a.lungCentreY) / lungHalfHeight)
                            guard medial > mediastinum else { continue }
                            if side > 0 && heartScale > 0 && heartDistance < heartRadius + 0.01 { continue }
                            if sd < spineRadius + 0.07 || cd < 0.1 { continue }
                            if ad < 0.07 { continue }
                            if side < 0 && liverLevel > 0 && w > 1 - liverLevel * (1 - 0.5 * u * u) { continue }
                            let posterior = max(0, min(1, (w + 1) / 2))
                            v[p] = a.lungLevel + 0.025 * t + 0.035 * posterior * posterior
                            m[p] = 1
                        }
                    }
                }
            }
        }

        // Ribs: small bright cross-sections in the chest wall around the lungs.
        let ribCount = 12
        for k in 0..<ribCount {
            let angle = Float(k) / Float(ribCount) * 2 * Float.pi + g.nextUniform(-0.12, 0.12)
            if abs(sin(angle)) > 0.93 { continue }   // none over the sternum or the spine
            let rx = (a.bodyHalfWidth - a.fatThickness - 0.045) * cos(angle)
            let ry = a.bodyCentreY + (a.bodyHalfHeight - a.fatThickness - 0.04) * sin(angle)
            stamp(&value, mask: mask, x: rx, y: ry, radius: 0.018, add: 0, set: boneLevel, inLung: false)
            stamp(&value, mask: mask, x: rx - 0.012 * sin(angle), y: ry + 0.012 * cos(angle), radius: 0.016, add: 0,
                  set: boneLevel, inLung: false)
        }

        // Vessels: dots and tapering branches from each hilum, thicker near the hilum.
        for side: Float in [-1, 1] {
            let hilumX = side * (a.lungCentreX - 0.55 * lungHalfWidth), hilumY = a.lungCentreY
            let dots = Int(60 * s)
            for _ in 0..<dots {
                var u: Float = 0, w: Float = 0
                repeat { u = g.nextUniform(-1, 1); w = g.nextUniform(-1, 1) } while u * u + w * w > 0.9
                let x = side * a.lungCentreX + u * lungHalfWidth, y = a.lungCentreY + w * lungHalfHeight
                let fromHilum = ((x - hilumX) * (x - hilumX) + (y - hilumY) * (y - hilumY)).squareRoot()
                let radius = (0.004 + 0.012 * max(0, 1 - fromHilum / 0.5)) * g.nextUniform(0.7, 1.3)
                stamp(&value, mask: mask, x: x, y: y, radius: radius, add: g.nextUniform(0.35, 0.6), set: nil, inLung: true)
            }
            for _ in 0..<Int(8 * s) {
                var x = hilumX, y = hilumY
                var angle = (side > 0 ? 0 : Float.pi) + g.nextUniform(-1.4, 1.4)
                var radius = g.nextUniform(0.011, 0.016)
                let steps = 12 + g.nextInt(below: 10)
                for _ in 0..<steps {
                    let nx = x + 0.022 * s * cos(angle), ny = y + 0.022 * s * sin(angle)
                    // Stamps every half pixel along the segment, so the branch is a continuous tube.
                    let pieces = max(1, Int(0.022 * s * Float(size)))
                    for k in 1...pieces {
                        let f = Float(k) / Float(pieces)
                        stamp(&value, mask: mask, x: x + f * (nx - x), y: y + f * (ny - y), radius: radius,
                              add: 0.22, set: nil, inLung: true)
                    }
                    x = nx; y = ny
                    angle += g.nextUniform(-0.25, 0.25)
                    radius = max(0.003, radius * 0.9)
                    if g.nextUniform() < 0.12 { angle += g.nextUniform() < 0.5 ? 0.5 : -0.5 }
                }
            }
        }

        // Lesions, in order; consolidation (3) overrides GGO (2).
        for lesion in scan.lesions {
            drawLesion(lesion, anatomy: a, z: z, scale: s, lungHalfWidth: lungHalfWidth,
                       lungHalfHeight: lungHalfHeight, texture: texture, grain: grain, value: &value, mask: &mask)
        }

        // Scanner noise: correlated grain plus white noise (Irwin–Hall approximation of a normal deviate).
        var pixels = [UInt8](repeating: 0, count: n)
        for p in 0..<n {
            let white = (g.nextUniform() + g.nextUniform() + g.nextUniform() - 1.5) * 2
            let amount: Float = value[p] > 0.05 ? 1 : 0.4
            let noisy = value[p] + amount * (0.022 * grain[p] + 0.016 * white)
            pixels[p] = UInt8((min(max(noisy, 0), 1) * 255).rounded())
        }
        return Output(pixels: pixels, mask: mask)
    }

    /// Adds a soft disc (`add`, Gaussian falloff) or paints a hard one (`set`) at normalised (x, y).
    private func stamp(_ value: inout [Float], mask: [UInt8], x: Float, y: Float, radius: Float,
                       add: Float, set: Float?, inLung: Bool) {
        let half = Float(size) / 2
        let cx = (x + 1) * half - 0.5, cy = (y + 1) * half - 0.5
        let r = max(radius * half, 0.6)
        let reach = Int((set == nil ? r * 1.6 : r).rounded(.up))
        let x0 = max(0, Int(cx) - reach), x1 = min(size - 1, Int(cx) + reach)
        let y0 = max(0, Int(cy) - reach), y1 = min(size - 1, Int(cy) + reach)
        guard x0 <= x1 && y0 <= y1 else { return }
        for row in y0...y1 {
            for column in x0...x1 {
                let p = row * size + column
                if inLung != (mask[p] != 0) { continue }
                let dx = Float(column) - cx, dy = Float(row) - cy
                let d2 = (dx * dx + dy * dy) / (r * r)
                if let set {
                    if d2 < 1 { value[p] = set - 0.06 * (1 - d2) }
                } else if d2 < 2.6 {
                    value[p] = min(value[p] + add * exp(-d2), 0.85)
                }
            }
        }
    }

    /// Draws a lesion's haze (GGO, mask 2) and dense core (consolidation, mask 3) inside the lung it belongs to.
    private func drawLesion(_ lesion: SyntheticLesion, anatomy a: SyntheticAnatomy, z: Float, scale: Float,
                            lungHalfWidth: Float, lungHalfHeight: Float, texture: [Float], grain: [Float],
                            value: inout [Float], mask: inout [UInt8]) {
        let planeRadius = lesion.radius(at: z) * scale
        guard planeRadius > 0 else { return }
        var shapeGenerator = SeededGenerator(seed: lesion.shapeSeed)
        let shape = NoiseField(octaves: [(4, 0.65), (9, 0.35)], generator: &shapeGenerator)
        let coreShape = NoiseField(octaves: [(5, 1)], generator: &shapeGenerator)
        let consolidationLevel = a.tissueLevel - shapeGenerator.nextUniform(0.04, 0.14)
        let bronchogramAngles = (0..<lesion.bronchograms).map { _ in shapeGenerator.nextUniform(0, Float.pi) }

        let half = Float(size) / 2
        let cx = lesion.side * a.lungCentreX + lesion.u * lungHalfWidth
        let cy = a.lungCentreY + lesion.v * lungHalfHeight
        let pcx = (cx + 1) * half - 0.5, pcy = (cy + 1) * half - 0.5
        let r = planeRadius * half
        let reach = Int((r * (1 + lesion.roughness) + 2).rounded(.up))
        let x0 = max(0, Int(pcx) - reach), x1 = min(size - 1, Int(pcx) + reach)
        let y0 = max(0, Int(pcy) - reach), y1 = min(size - 1, Int(pcy) + reach)
        guard x0 <= x1 && y0 <= y1 else { return }
        // Only the lung this lesion belongs to: its side of the midline.
        let midline = Float(size) / 2
        for row in y0...y1 {
            for column in x0...x1 {
                let p = row * size + column
                guard mask[p] != 0 else { continue }
                if (Float(column) + 0.5 - midline) * lesion.side < 0 { continue }
                let dx = (Float(column) - pcx) / r, dy = (Float(row) - pcy) / r
                let rho = (dx * dx + dy * dy).squareRoot()
                let nx = (dx + 1 + lesion.roughness) / (2 + 2 * lesion.roughness)
                let ny = (dy + 1 + lesion.roughness) / (2 + 2 * lesion.roughness)
                var edge = 1 + lesion.roughness * shape.value(x: nx, y: ny)
                if let fissure = lesion.fissure {
                    // A straight lobar border: the blob ends at the fissure line.
                    let signed = dx * fissure.nx + dy * fissure.ny - fissure.offset
                    if signed > 0 { continue }
                    edge = min(edge, rho - signed * 4)
                }
                guard rho < edge else { continue }
                // Haze rises softly from the outline inwards.
                let depth = min((edge - rho) / 0.35, 1)
                let haze = depth * depth * (3 - 2 * depth)
                let t = texture[p], fine = grain[p]
                value[p] += lesion.hazeStrength * haze * (0.75 + 0.25 * t + 0.2 * fine)
                if haze > 0.3 && mask[p] < 2 { mask[p] = 2 }
                let core = lesion.coreFraction * (1 + 0.3 * coreShape.value(x: nx, y: ny))
                if lesion.coreFraction > 0 && rho < core {
                    let sharp = min((core - rho) / 0.06, 1)
                    var dense = consolidationLevel + 0.03 * t
                    for angle in bronchogramAngles {
                        let across = abs(dx * sin(angle) - dy * cos(angle)) * r
                        if across < 0.7 && rho < core * 0.8 { dense = a.lungLevel + 0.04 }
                    }
                    value[p] = value[p] + sharp * (max(dense, value[p] * 0.3 + dense * 0.7) - value[p])
                    if sharp > 0.5 { mask[p] = 3 }
                }
            }
        }
    }
}
