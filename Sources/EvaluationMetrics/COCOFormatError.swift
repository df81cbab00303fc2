
import Foundation

/// A COCO JSON file that cannot be used; the message names the file and the key.
public struct COCOFormatError: Error, Equatable, CustomStringConvertible {
    /// The file (or a label for in-memory data).
    public let file: String
    /// The JSON path of the offending key, e.g. `annotations[3].bbox`.
    public let key: String
    /// What is wrong and what to do.
    public let message: String

    /// An error about `key` in `file`.
    public init(file: String, key: String, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    /// Human-readable description naming file and key.
    public var description: String { "\(file): \(key): \(message)" }
}
