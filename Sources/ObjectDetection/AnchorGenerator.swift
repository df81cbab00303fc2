import Foundation
import TensorCore

/// Anchors for every feature-map location of every pyramid level (spec §3.1, torchvision 0.3.0
/// `AnchorGenerator`).
///
/// Every level uses the same sizes × aspect ratios (the seed gives identical entries per level), so
/// there are `sizes.count · aspectRatios.count` anchors per location, 30 with the defaults.
public struct AnchorGenerator: Sendable {
    /// Anchor sizes (square-root of the area before rounding), in pixels.
    public let sizes: [Float]
    /// Aspect ratios h/w.
    public let aspectRatios: [Float]
    /// Grid anchors per (image size, feature sizes), shared by copies of this generator.
    private let cache = _AnchorCache()

    /// A generator with the seed's defaults: sizes (2, 4, 8, 16, 32) and ratios (0.1, 0.25, 0.5, 1, 1.5, 2).
    public init(sizes: [Float] = [2, 4, 8, 16, 32], aspectRatios: [Float] = [0.1, 0.25, 0.5, 1, 1.5, 2]) {
        precondition(!sizes.isEmpty && !aspectRatios.isEmpty, "AnchorGenerator needs sizes and aspect ratios")
        self.sizes = sizes
        self.aspectRatios = aspectRatios
    }

    /// Anchors per feature-map location (sizes × ratios).
    public var anchorsPerLocation: Int { sizes.count * aspectRatios.count }

    /// The zero-centred base anchors `[A, 4]`, ratio-major (index = ratio·sizes.count + size).
    ///
    /// Computed in float32 exactly like the seed: h_ratio = √r, w_ratio = 1/h_ratio, w = w_ratio·s,
    /// h = h_ratio·s, then round([−w, −h, w, h] / 2) half to even. This produces the degenerate
    /// zero-height anchors of the spec table (ratio 0.1 and 0.25 at size 2); they are kept on purpose.
    public func cellAnchors() -> Tensor {
        var values: [Float] = []
        values.reserveCapacity(4 * anchorsPerLocation)
        for ratio in aspectRatios {
            let heightRatio = ratio.squareRoot()
            let widthRatio = 1 / heightRatio
            for size in sizes {
                let w = widthRatio * size, h = heightRatio * size
                for v in [-w, -h, w, h] { values.append((v / 2).rounded(.toNearestOrEven)) }
            }
        }
        return Tensor(shape: [anchorsPerLocation, 4], scalars: values)
    }

    /// Anchors per level, `[H·W·A, 4]` each, ordered (y, x, a), for a padded batch of
    /// `imageHeight × imageWidth` and the given feature-map sizes (finest level first).
    ///
    /// Stride per axis = padded image size / feature size as a float; the shift of column i is
    /// i·stride (computed in double and rounded to float, like torch's `arange` with a float step),
    /// so anchors are centred on each cell's top-left corner, not its centre.
    public func anchors(imageHeight: Int, imageWidth: Int, featureSizes: [(height: Int, width: Int)]) -> [Tensor] {
        let key = _AnchorCache.Key(imageHeight: imageHeight, imageWidth: imageWidth,
                                   featureSizes: featureSizes.flatMap { [$0.height, $0.width] })
        if let cached = cache.lookup(key) { return cached }
        let base = cellAnchors().scalars
        let perLocation = anchorsPerLocation
        let levels = featureSizes.map { size -> Tensor in
            precondition(size.height > 0 && size.width > 0, "feature size \(size) must be positive")
            let strideY = Double(imageHeight) / Double(size.height), strideX = Double(imageWidth) / Double(size.width)
            let shiftsY = (0..<size.height).map { Float(Double($0) * strideY) }
            let shiftsX = (0..<size.width).map { Float(Double($0) * strideX) }
            return Tensor(shape: [size.height * size.width * perLocation, 4]) { out in
                var k = 0
                for y in shiftsY {
                    for x in shiftsX {
                        for a in 0..<perLocation {
                            out[k] = x + base[4 * a]
                            out[k + 1] = y + base[4 * a + 1]
                            out[k + 2] = x + base[4 * a + 2]
                            out[k + 3] = y + base[4 * a + 3]
                            k += 4
                        }
                    }
                }
            }
        }
        cache.store(key, levels)
        return levels
    }
}

/// The grid-anchor cache behind `AnchorGenerator` (a reference, so the generator stays a value type).
/// Unchecked Sendable: `entries` is read and written only under `lock`.
final class _AnchorCache: @unchecked Sendable {
    struct Key: Hashable {
        let imageHeight: Int, imageWidth: Int
        let featureSizes: [Int]
    }

    private var entries: [Key: [Tensor]] = [:]
    private let lock = NSLock()

    func lookup(_ key: Key) -> [Tensor]? {
        lock.lock(); defer { lock.unlock() }
        return entries[key]
    }

    func store(_ key: Key, _ value: [Tensor]) {
        lock.lock(); defer { lock.unlock() }
        entries[key] = value
    }
}
