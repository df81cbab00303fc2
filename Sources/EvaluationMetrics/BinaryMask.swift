// BinaryMask: one instance mask as a dense bitmap.

/// A binary mask of shape `[height, width]`, stored row-major with one byte per pixel (0 or 1).
///
/// Row-major is the layout of the model's pasted masks (`[H, W]` slices of `[N, 1, H, W]`); COCO's
/// run-length encoding walks the pixels column-major, which `RLEMask(encoding:)` handles.
public struct BinaryMask: Equatable, Hashable, Sendable {
    /// Number of rows.
    public let height: Int
    /// Number of columns.
    public let width: Int
    /// `height * width` bytes, row-major; every byte is 0 or 1.
    public private(set) var pixels: [UInt8]

    /// A mask of all zeros.
    public init(height: Int, width: Int) {
        precondition(height >= 0 && width >= 0, "BinaryMask: negative shape [\(height), \(width)]")
        self.height = height
        self.width = width
        self.pixels = [UInt8](repeating: 0, count: height * width)
    }

    /// A mask from row-major bytes; any non-zero byte counts as foreground.
    public init(height: Int, width: Int, pixels: [UInt8]) {
        precondition(height >= 0 && width >= 0, "BinaryMask: negative shape [\(height), \(width)]")
        precondition(pixels.count == height * width,
                     "BinaryMask: \(pixels.count) pixels for shape [\(height), \(width)]")
        self.height = height
        self.width = width
        self.pixels = pixels.map { $0 != 0 ? 1 : 0 }
    }

    /// A mask from row-major booleans.
    public init(height: Int, width: Int, bools: [Bool]) {
        precondition(bools.count == height * width,
                     "BinaryMask: \(bools.count) pixels for shape [\(height), \(width)]")
        self.height = height
        self.width = width
        self.pixels = bools.map { $0 ? 1 : 0 }
    }

    /// A mask from row-major scores (for example pasted mask logits `[H, W]`): foreground where `score > threshold`.
    ///
    /// Strict `>` as in the seed (`masks > mask_logits_th`, spec §7.1.2).
    public init(height: Int, width: Int, scores: [Float], threshold: Float) {
        precondition(scores.count == height * width,
                     "BinaryMask: \(scores.count) scores for shape [\(height), \(width)]")
        self.height = height
        self.width = width
        self.pixels = scores.map { $0 > threshold ? 1 : 0 }
    }

    /// The pixel at row `y`, column `x`.
    public subscript(y: Int, x: Int) -> Bool {
        get { pixels[y * width + x] != 0 }
        set { pixels[y * width + x] = newValue ? 1 : 0 }
    }

    /// Number of foreground pixels.
    public var area: Int {
        var total = 0
        for p in pixels { total &+= Int(p) }
        return total
    }
}
