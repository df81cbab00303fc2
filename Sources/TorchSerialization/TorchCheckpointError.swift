/// A file that is not a readable `torch.save` checkpoint. The message names the file, the part of it
/// (`archive/data.pkl`, `legacy object pickle`, …) and the byte offset within that part, and says what to do.
public struct TorchCheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or description of in-memory bytes).
    public var file: String
    /// The part of the file the offset refers to: a zip entry name, or a section of the legacy stream.
    public var part: String
    /// Byte offset within `part` where the problem was found.
    public var offset: Int
    /// What is wrong.
    public var reason: String

    /// An error at `offset` of `part` of `file`.
    public init(file: String, part: String, offset: Int, reason: String) {
        self.file = file
        self.part = part
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        "PyTorch checkpoint \(file), \(part) at byte \(offset): \(reason)"
    }
}

/// A format violation found by the unpickler, before the caller adds the file and part names.
struct PickleError: Error {
    var offset: Int
    var reason: String
}
