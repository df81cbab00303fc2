import Foundation

/// Decodes PNG and JPEG files, choosing the decoder by the file's signature (never its extension).
public enum ImageDecoder {
    /// The largest image decoded: 2^26 pixels (8192 × 8192). CT slices are 512 × 512; the limit only exists
    /// so that a damaged or hostile header (a PNG claiming 100,000 × 100,000) is refused before the pixel
    /// buffers are allocated (16-bit RGBA at this size already takes 1.5 GiB with its Float copy).
    public static let maximumPixelCount = 1 << 26

    /// Throws `unsupported` for a header larger than `maximumPixelCount` pixels.
    static func checkPixelCount(width: Int, height: Int, path: String) throws {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maximumPixelCount else {
            throw ImageIOError.unsupported(
                path: path, detail: "the header claims \(width) × \(height) pixels, more than the \(maximumPixelCount) (8192 × 8192) masknet decodes; the file is damaged or not a CT slice")
        }
    }

    /// Decodes the image at `url` to samples in [0, 1], keeping the file's channels (palettes become RGB or
    /// RGBA). Throws `ImageIOError` naming the file if it is missing, unreadable, truncated, not an image,
    /// corrupt or unsupported.
    public static func decode(contentsOf url: URL) throws -> Image {
        try decode(data: readFile(url), path: url.path)
    }

    /// Decodes an in-memory PNG or JPEG; `path` is only used to name the source in errors.
    public static func decode(data: Data, path: String) throws -> Image {
        switch try format(of: data, path: path) {
        case .png: return try PNGDecoding.decodeImage(data, path: path)
        case .jpeg: return try JPEGDecoding.decodeImage(data, path: path)
        }
    }

    /// Decodes a label mask at `url` to its raw 8-bit values (never scaled).
    ///
    /// Grey PNGs give their values, palette PNGs give their palette indices (as PIL's mode "P" does), and
    /// grey+alpha gives the grey values. 16-bit grey values must be ≤ 255; colour masks must have R = G = B.
    /// Anything else is `ImageIOError.unsupported`, because guessing would silently change the classes.
    public static func decodeLabels(contentsOf url: URL) throws -> LabelMap {
        try decodeLabels(data: readFile(url), path: url.path)
    }

    /// Decodes an in-memory label mask; see `decodeLabels(contentsOf:)`.
    public static func decodeLabels(data: Data, path: String) throws -> LabelMap {
        switch try format(of: data, path: path) {
        case .png: return try PNGDecoding.decodeLabels(data, path: path)
        case .jpeg:
            let image = try JPEGDecoding.decodeBytes(data, path: path)
            return try labels(fromBytes: image.bytes, width: image.width, height: image.height,
                              channels: image.channels, path: path)
        }
    }

    /// Reads the header of the image at `url` (size, channels, depth) without decoding its pixels.
    public static func info(contentsOf url: URL) throws -> ImageInfo {
        let data = try readFile(url)
        switch try format(of: data, path: url.path) {
        case .png: return try PNGDecoding.info(data, path: url.path)
        case .jpeg: return try JPEGDecoding.info(data, path: url.path)
        }
    }

    /// The container format from the first bytes, or `notAnImage` (`truncated` if the file is too short
    /// to hold any signature but starts like one).
    public static func format(of data: Data, path: String) throws -> ImageInfo.Format {
        let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let head = [UInt8](data.prefix(8))
        if head.count == 8 && head == pngSignature { return .png }
        if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        if !head.isEmpty && (pngSignature.starts(with: head) || [0xFF, 0xD8, 0xFF].starts(with: head)) {
            throw ImageIOError.truncated(path: path, detail: "only \(data.count) bytes")
        }
        if data.isEmpty { throw ImageIOError.truncated(path: path, detail: "the file is empty") }
        throw ImageIOError.notAnImage(path: path)
    }

    /// Reads a whole file, mapping Foundation's errors to ours.
    static func readFile(_ url: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ImageIOError.missingFile(path: url.path)
        }
        if isDirectory.boolValue { throw ImageIOError.unreadable(path: url.path, reason: "it is a directory") }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw ImageIOError.unreadable(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Label values from interleaved 8-bit samples: grey (or grey+alpha) directly, colour only if grey.
    static func labels(fromBytes bytes: [UInt8], width: Int, height: Int, channels: Int,
                       path: String) throws -> LabelMap {
        if channels == 1 { return LabelMap(width: width, height: height, values: bytes) }
        var values = [UInt8](repeating: 0, count: width * height)
        for p in 0..<(width * height) {
            let s = p * channels
            if channels >= 3 && (bytes[s] != bytes[s + 1] || bytes[s] != bytes[s + 2]) {
                throw ImageIOError.unsupported(
                    path: path,
                    detail: "a colour label mask (pixel \(p % width),\(p / width) is RGB "
                        + "\(bytes[s]),\(bytes[s + 1]),\(bytes[s + 2])); label masks must be single-channel")
            }
            values[p] = bytes[s]
        }
        return LabelMap(width: width, height: height, values: values)
    }
}
