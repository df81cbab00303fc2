import Foundation

/// Thrown by a kind when the run was interrupted (see `StageContext.isCancelled`).
public struct StageCancelled: Error, CustomStringConvertible {
    /// Creates the error.
    public init() {}
    /// Message.
    public var description: String { "interrupted" }
}
