import CLibPNG
import Foundation

/// PNG decoding through libpng's simplified API, which reports errors through return codes and
/// `png_image.message`, so no longjmp ever crosses a Swift frame.
///
/// Colour management: libpng's simplified API treats 8-bit data as sRGB and 16-bit data without a gAMA or
/// sRGB chunk as linear. We therefore read 8-bit files into 8-bit buffers and 16-bit files into 16-bit
/// buffers, which returns the stored values unchanged for every file without gamma chunks (PIL's
/// behaviour). Files that do carry a non-sRGB gAMA chunk are converted by libpng; CT exports do not have one.
enum PNGDecoding {
    private static let colormapFlag = UInt32(PNG_FORMAT_FLAG_COLORMAP)
    private static let linearFlag = UInt32(PNG_FORMAT_FLAG_LINEAR)
    private static let colorFlag = UInt32(PNG_FORMAT_FLAG_COLOR)
    private static let alphaFlag = UInt32(PNG_FORMAT_FLAG_ALPHA)

    /// The header as the simplified API sees it.
    static func info(_ data: Data, path: String) throws -> ImageInfo {
        try withHeader(data, path: path) { image, _ in
            ImageInfo(format: .png, width: Int(image.width), height: Int(image.height),
                      channels: channels(of: image.format),
                      bitDepth: image.format & linearFlag != 0 ? 16 : 8)
        }
    }

    /// Samples in [0, 1] with the file's channel layout (palettes expanded to RGB or RGBA).
    static func decodeImage(_ data: Data, path: String) throws -> Image {
        try withHeader(data, path: path) { image, bytes in
            let width = Int(image.width), height = Int(image.height)
            try ImageDecoder.checkPixelCount(width: width, height: height, path: path)
            let sixteenBit = image.format & linearFlag != 0
            image.format &= ~colormapFlag
            let count = channels(of: image.format)
            if sixteenBit {
                var samples = [UInt16](repeating: 0, count: width * height * count)
                try finish(&image, into: &samples, path: path, data: bytes)
                var pixels = samples.map { Float($0) / 65535 }
                if count == 2 || count == 4 { unpremultiply(&pixels, channels: count) }
                return Image(width: width, height: height, channels: count, pixels: pixels)
            }
            var samples = [UInt8](repeating: 0, count: width * height * count)
            try finish(&image, into: &samples, path: path, data: bytes)
            return Image(width: width, height: height, channels: count, bytes: samples)
        }
    }

    /// Raw label values: grey values, palette indices, or grey colour triples (see `decodeLabels`).
    static func decodeLabels(_ data: Data, path: String) throws -> LabelMap {
        try withHeader(data, path: path) { image, bytes in
            let width = Int(image.width), height = Int(image.height)
            try ImageDecoder.checkPixelCount(width: width, height: height, path: path)
            if image.format & colormapFlag != 0 {
                // Palette file read as colour-mapped: libpng hands back the file's own indices unchanged.
                image.format = colorFlag | alphaFlag | colormapFlag  // PNG_FORMAT_RGBA_COLORMAP
                var indices = [UInt8](repeating: 0, count: width * height)
                var colormap = [UInt8](repeating: 0, count: 256 * 4)
                try finish(&image, into: &indices, path: path, data: bytes, colormap: &colormap)
                return LabelMap(width: width, height: height, values: indices)
            }
            let count = channels(of: image.format)
            if image.format & linearFlag != 0 {
                var samples = [UInt16](repeating: 0, count: width * height * count)
                try finish(&image, into: &samples, path: path, data: bytes)
                var narrow = [UInt8](repeating: 0, count: samples.count)
                for (i, v) in samples.enumerated() {
                    // Alpha is premultiplied in 16-bit output; only the grey/colour samples must fit 8 bits.
                    let isAlpha = (count == 2 && i % 2 == 1) || (count == 4 && i % 4 == 3)
                    if isAlpha { continue }
                    guard v <= 255 else {
                        throw ImageIOError.unsupported(
                            path: path, detail: "a 16-bit label mask with value \(v) > 255 at pixel index \(i / count)")
                    }
                    narrow[i] = UInt8(v)
                }
                if count == 2 || count == 4 {
                    // Premultiplied colour of transparent pixels is 0; such masks are not label maps.
                    for p in 0..<(width * height) where samples[p * count + count - 1] != 65535 {
                        throw ImageIOError.unsupported(path: path, detail: "a 16-bit label mask with transparency")
                    }
                }
                return try ImageDecoder.labels(fromBytes: narrow, width: width, height: height,
                                               channels: count, path: path)
            }
            var samples = [UInt8](repeating: 0, count: width * height * count)
            try finish(&image, into: &samples, path: path, data: bytes)
            return try ImageDecoder.labels(fromBytes: samples, width: width, height: height,
                                           channels: count, path: path)
        }
    }

    private static func channels(of format: UInt32) -> Int {
        (format & colorFlag != 0 ? 3 : 1) + (format & alphaFlag != 0 ? 1 : 0)
    }

    /// Reads the header from `data` (kept alive and pinned for `body`), always releasing libpng's state.
    private static func withHeader<R>(_ data: Data, path: String,
                                      _ body: (inout png_image, UnsafeRawBufferPointer) throws -> R) throws -> R {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> R in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
                throw failure(message(of: &image), data: bytes, path: path)
            }
            return try body(&image, bytes)
        }
    }

    /// Finishes the read into `buffer`, whose element size must match the format (1 or 2 bytes).
    private static func finish<T>(_ image: inout png_image, into buffer: inout [T], path: String,
                                  data: UnsafeRawBufferPointer, colormap: UnsafeMutablePointer<UInt8>? = nil) throws {
        let ok = buffer.withUnsafeMutableBytes { target in
            png_image_finish_read(&image, nil, target.baseAddress, 0, colormap)
        }
        guard ok != 0 else { throw failure(message(of: &image), data: data, path: path) }
        // A warning (e.g. a bad CRC on an ancillary chunk) still gives a usable image; we accept it.
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Classifies a libpng failure: a file without an IEND chunk was cut short, anything else is damage.
    private static func failure(_ message: String, data: UnsafeRawBufferPointer, path: String) -> ImageIOError {
        let iend: [UInt8] = [0x49, 0x45, 0x4E, 0x44]
        let hasEnd = data.count >= 12 && containsSequence(data, iend)
        if !hasEnd { return .truncated(path: path, detail: "libpng: \(message)") }
        if message.contains("unsupported") || message.contains("too large") {
            return .unsupported(path: path, detail: "libpng: \(message)")
        }
        return .corrupt(path: path, detail: "libpng: \(message)")
    }

    private static func containsSequence(_ data: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        // IEND sits in the last 12 bytes of a well-formed file; search the tail only (trailing junk allowed).
        let tail = data.count > 4096 ? data.count - 4096 : 0
        var i = data.count - needle.count
        while i >= tail {
            if data[i] == needle[0] && data[i + 1] == needle[1] && data[i + 2] == needle[2] && data[i + 3] == needle[3] {
                return true
            }
            i -= 1
        }
        return false
    }

    /// libpng's 16-bit output has associated (premultiplied) alpha; undo it so colour means colour.
    private static func unpremultiply(_ pixels: inout [Float], channels: Int) {
        let colours = channels - 1
        for p in 0..<(pixels.count / channels) {
            let alpha = pixels[p * channels + colours]
            guard alpha > 0 && alpha < 1 else { continue }
            for c in 0..<colours { pixels[p * channels + c] = min(1, pixels[p * channels + c] / alpha) }
        }
    }
}
