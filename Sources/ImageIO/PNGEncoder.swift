import CLibPNG
import Foundation

/// Writes 8-bit PNGs (grey, grey+alpha, RGB, RGBA, and label masks) through libpng's simplified API.
public enum PNGEncoder {
    /// Encodes interleaved 8-bit samples, `height * width * channels` bytes, rows top to bottom.
    /// `fast` asks zlib for speed over size (the synthetic generator writes thousands of slices).
    public static func encode(bytes: [UInt8], width: Int, height: Int, channels: Int,
                              fast: Bool = false) throws -> Data {
        precondition((1...4).contains(channels) && width > 0 && height > 0,
                     "PNG encode needs 1...4 channels and a non-empty size, got \(width)x\(height)x\(channels)")
        precondition(bytes.count == width * height * channels,
                     "PNG encode of \(width)x\(height)x\(channels) needs \(width * height * channels) bytes, got \(bytes.count)")
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        // PNG_FORMAT_GRAY / _GA / _RGB / _RGBA (compound macros are not imported into Swift).
        let colour = channels >= 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0
        let alpha = channels % 2 == 0 ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0
        image.format = colour | alpha
        if fast { image.flags |= UInt32(PNG_IMAGE_FLAG_FAST) }
        defer { png_image_free(&image) }

        // Filtered rows plus deflate's worst case (stored blocks) plus chunk framing; retried if too small.
        var capacity = height * (width * channels + 1) * 101 / 100 + 8192
        for _ in 0..<2 {
            var output = Data(count: capacity)
            var written = png_alloc_size_t(capacity)
            let ok = output.withUnsafeMutableBytes { target in
                bytes.withUnsafeBytes { source in
                    png_image_write_to_memory(&image, target.baseAddress, &written, 0, source.baseAddress, 0, nil)
                }
            }
            if ok != 0 {
                output.count = Int(written)
                return output
            }
            if Int(written) > capacity {
                capacity = Int(written)
                image.warning_or_error = 0
                continue
            }
            let message = withUnsafeBytes(of: &image.message) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw ImageIOError.writeFailed(path: "<memory>", reason: "libpng: \(message)")
        }
        throw ImageIOError.writeFailed(path: "<memory>", reason: "libpng needed more memory than it reported")
    }

    /// Encodes an image (any 1...4 channel layout) quantised to 8 bits (round to nearest, clamped).
    public static func encode(_ image: Image, fast: Bool = false) throws -> Data {
        try encode(bytes: image.quantized(), width: image.width, height: image.height,
                   channels: image.channels, fast: fast)
    }

    /// Encodes a label mask as an 8-bit grey PNG holding the raw values.
    public static func encode(_ labels: LabelMap, fast: Bool = false) throws -> Data {
        try encode(bytes: labels.values, width: labels.width, height: labels.height, channels: 1, fast: fast)
    }

    /// Writes an image to `url` (atomically: a temporary file renamed into place).
    public static func write(_ image: Image, to url: URL, fast: Bool = false) throws {
        try write(data: naming(url) { try encode(image, fast: fast) }, to: url)
    }

    /// Writes a label mask to `url` as an 8-bit grey PNG (atomically).
    public static func write(_ labels: LabelMap, to url: URL, fast: Bool = false) throws {
        try write(data: naming(url) { try encode(labels, fast: fast) }, to: url)
    }

    /// Writes interleaved 8-bit samples to `url` as a PNG (atomically).
    public static func write(bytes: [UInt8], width: Int, height: Int, channels: Int, to url: URL,
                             fast: Bool = false) throws {
        let data = try naming(url) {
            try encode(bytes: bytes, width: width, height: height, channels: channels, fast: fast)
        }
        try write(data: data, to: url)
    }

    /// Runs an encode so that its errors (raised before a path is known) name the destination file.
    private static func naming(_ url: URL, _ encode: () throws -> Data) throws -> Data {
        do { return try encode() } catch ImageIOError.writeFailed(_, let reason) {
            throw ImageIOError.writeFailed(path: url.path, reason: reason)
        }
    }

    private static func write(data: Data, to url: URL) throws {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw ImageIOError.writeFailed(path: url.path, reason: error.localizedDescription)
        }
    }
}
