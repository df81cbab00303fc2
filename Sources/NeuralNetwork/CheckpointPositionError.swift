/// A training checkpoint whose recorded position (completed epochs, epoch in progress) cannot be resumed from.
public struct CheckpointPositionError: Error, CustomStringConvertible, Equatable {
    /// The checkpoint.
    public var file: String
    /// What is wrong with the recorded position.
    public var detail: String

    public init(file: String, detail: String) {
        self.file = file
        self.detail = detail
    }

    public var description: String {
        "\(file): cannot resume training: \(detail); delete the checkpoint to train from the start"
    }
}
