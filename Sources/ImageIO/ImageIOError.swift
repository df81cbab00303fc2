import Foundation

/// A failure to read or write an image file; every case names the file and says what to do.
public enum ImageIOError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The file does not exist.
    case missingFile(path: String)
    /// The file exists but could not be read (permissions, a directory, an I/O error).
    case unreadable(path: String, reason: String)
    /// The file ends before the image data do.
    case truncated(path: String, detail: String)
    /// The file is neither a PNG nor a JPEG (checked by its signature, not its extension).
    case notAnImage(path: String)
    /// The file has a PNG or JPEG signature but its data are damaged.
    case corrupt(path: String, detail: String)
    /// A valid image of a kind we do not handle (e.g. CMYK JPEG, a colour label mask).
    case unsupported(path: String, detail: String)
    /// Encoding or writing the file failed.
    case writeFailed(path: String, reason: String)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .missingFile(let path), .unreadable(let path, _), .truncated(let path, _), .notAnImage(let path),
             .corrupt(let path, _), .unsupported(let path, _), .writeFailed(let path, _):
            return path
        }
    }

    /// One line naming the file(s), the problem and what to do.
    public var description: String {
        switch self {
        case .missingFile(let path):
            return "image file '\(path)' does not exist; check the data folder and the split file"
        case .unreadable(let path, let reason):
            return "image file '\(path)' cannot be read (\(reason)); check its permissions"
        case .truncated(let path, let detail):
            return "image file '\(path)' is truncated (\(detail)); copy or download it again"
        case .notAnImage(let path):
            return "file '\(path)' is not a PNG or JPEG image (unknown signature); remove it from the data folder"
        case .corrupt(let path, let detail):
            return "image file '\(path)' is corrupt (\(detail)); copy or download it again"
        case .unsupported(let path, let detail):
            return "image file '\(path)' is not supported: \(detail); convert it to 8-bit grey or RGB PNG"
        case .writeFailed(let path, let reason):
            return "cannot write image file '\(path)' (\(reason)); check the output folder and free space"
        }
    }

    /// The same text as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
