/// A decoded image: `height × width × channels` samples in [0, 1], interleaved, rows top to bottom.
///
/// Channel layouts: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. 8-bit sources are scaled by 1/255 and 16-bit
/// sources by 1/65535, so both land exactly on [0, 1].
public struct Image: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Samples per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
    public let channels: Int
    /// `height * width * channels` samples in [0, 1], index `(row * width + column) * channels + channel`.
    public var pixels: [Float]

    /// An image from interleaved samples; `pixels.count` must be `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [Float]) {
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels),
                     "Image needs width, height >= 0 and 1...4 channels, got \(width)x\(height)x\(channels)")
        precondition(pixels.count == width * height * channels,
                     "Image \(width)x\(height)x\(channels) needs \(width * height * channels) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image from 8-bit samples (each divided by 255).
    public init(width: Int, height: Int, channels: Int, bytes: [UInt8]) {
        self.init(width: width, height: height, channels: channels, pixels: bytes.map { Float($0) / 255 })
    }

    /// The sample at `row`, `column`, `channel`.
    @inlinable
    public subscript(row: Int, column: Int, channel: Int) -> Float {
        pixels[(row * width + column) * channels + channel]
    }

    /// Whether the image has an alpha channel (2 or 4 channels).
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// The model-input colour policy of spec Appendix D/B18: 3-channel RGB, grey replicated into R, G and B,
    /// alpha dropped (not composited: CT slices carry no meaningful transparency).
    public func rgb() -> Image {
        if channels == 3 { return self }
        let colourChannels = channels >= 3 ? 3 : 1
        var out = [Float](repeating: 0, count: width * height * 3)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for p in 0..<(width * height) {
                    let s = p * channels
                    if colourChannels == 1 {
                        let v = source[s]
                        target[3 * p] = v; target[3 * p + 1] = v; target[3 * p + 2] = v
                    } else {
                        target[3 * p] = source[s]; target[3 * p + 1] = source[s + 1]; target[3 * p + 2] = source[s + 2]
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: out)
    }

    /// The samples in planar (channel-first) order, `[channels, height, width]`, as a model tensor wants them.
    public func planar() -> [Float] {
        var out = [Float](repeating: 0, count: pixels.count)
        let plane = width * height
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for p in 0..<plane {
                    for c in 0..<channels { target[c * plane + p] = source[p * channels + c] }
                }
            }
        }
        return out
    }

    /// The samples quantised to 8 bits (round to nearest, clamped to [0, 255]).
    public func quantized() -> [UInt8] {
        pixels.map { UInt8(($0 * 255).rounded().clamped(to: 0...255)) }
    }
}

/// A single-channel image of raw 8-bit integer values, used for label masks (values are classes, not
/// intensities, so they are never scaled).
public struct LabelMap: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `height * width` values, index `row * width + column`.
    public var values: [UInt8]

    /// A label map from row-major values; `values.count` must be `width * height`.
    public init(width: Int, height: Int, values: [UInt8]) {
        precondition(width >= 0 && height >= 0 && values.count == width * height,
                     "LabelMap \(width)x\(height) needs \(width * height) values, got \(values.count)")
        self.width = width
        self.height = height
        self.values = values
    }

    /// A label map filled with one value.
    public init(width: Int, height: Int, repeating value: UInt8 = 0) {
        self.init(width: width, height: height, values: [UInt8](repeating: value, count: width * height))
    }

    /// The value at `row`, `column`.
    @inlinable
    public subscript(row: Int, column: Int) -> UInt8 {
        get { values[row * width + column] }
        set { values[row * width + column] = newValue }
    }
}

/// What a file's header says, without decoding its pixels.
public struct ImageInfo: Sendable, Equatable {
    /// The container format.
    public enum Format: String, Sendable { case png, jpeg }
    /// PNG or JPEG.
    public let format: Format
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Channels the decoder returns (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; palettes count as RGB or RGBA).
    public let channels: Int
    /// Bits per sample in the file after palette expansion (8 or 16).
    public let bitDepth: Int
}

extension Comparable {
    @usableFromInline
    func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
