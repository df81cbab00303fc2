import CJPEGShim
import Foundation

/// JPEG decoding through libjpeg via CJPEGShim (setjmp/longjmp stay in C). Grey files decode to one channel,
/// everything else to RGB, with libjpeg's default (ISLOW) IDCT and fancy upsampling, as PIL uses.
/// Corrupt-data warnings, which libjpeg would otherwise hide by inventing grey pixels, are errors here.
enum JPEGDecoding {
    /// Interleaved 8-bit samples.
    struct Bytes {
        var width: Int
        var height: Int
        var channels: Int
        var bytes: [UInt8]
    }

    static func info(_ data: Data, path: String) throws -> ImageInfo {
        var width: Int32 = 0, height: Int32 = 0, components: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = data.withUnsafeBytes { raw in
            masknet_jpeg_read_header(raw.bindMemory(to: UInt8.self).baseAddress, raw.count,
                                     &width, &height, &components, &message, message.count)
        }
        try check(status, message: message, path: path)
        return ImageInfo(format: .jpeg, width: Int(width), height: Int(height), channels: Int(components), bitDepth: 8)
    }

    static func decodeBytes(_ data: Data, path: String) throws -> Bytes {
        // The header first, so a file claiming an enormous size is refused before libjpeg allocates for it.
        let header = try info(data, path: path)
        try ImageDecoder.checkPixelCount(width: header.width, height: header.height, path: path)
        var width: Int32 = 0, height: Int32 = 0, components: Int32 = 0
        var pixels: UnsafeMutablePointer<UInt8>?
        var message = [CChar](repeating: 0, count: 256)
        let status = data.withUnsafeBytes { raw in
            masknet_jpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count,
                                &pixels, &width, &height, &components, &message, message.count)
        }
        defer { masknet_jpeg_free(pixels) }
        try check(status, message: message, path: path)
        guard let pixels else { throw ImageIOError.corrupt(path: path, detail: "libjpeg returned no pixels") }
        let count = Int(width) * Int(height) * Int(components)
        return Bytes(width: Int(width), height: Int(height), channels: Int(components),
                     bytes: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    static func decodeImage(_ data: Data, path: String) throws -> Image {
        let decoded = try decodeBytes(data, path: path)
        return Image(width: decoded.width, height: decoded.height, channels: decoded.channels, bytes: decoded.bytes)
    }

    private static func check(_ status: masknet_jpeg_status, message: [CChar], path: String) throws {
        let text = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch status {
        case MASKNET_JPEG_OK: return
        case MASKNET_JPEG_TRUNCATED: throw ImageIOError.truncated(path: path, detail: "libjpeg: \(text)")
        case MASKNET_JPEG_UNSUPPORTED: throw ImageIOError.unsupported(path: path, detail: text)
        case MASKNET_JPEG_OUT_OF_MEMORY: throw ImageIOError.unreadable(path: path, reason: "out of memory")
        default: throw ImageIOError.corrupt(path: path, detail: "libjpeg: \(text)")
        }
    }
}
