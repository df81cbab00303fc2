import Foundation

/// Something went wrong talking to Slurm or running a stage on it; the message says what and what to do.
public struct SlurmError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// A Slurm command is missing or could not be started.
        case unavailable
        /// A transient controller problem that outlasted every retry.
        case transient
        /// The site refused the job (QOS, account, partition or association limit); `limit` names it.
        case limitRejected(limit: String)
        /// Any other refusal or unexpected output.
        case rejected
        /// A profile or resource value is invalid.
        case invalidConfiguration
    }

    /// The category.
    public let kind: Kind
    /// The message.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }

    /// The message.
    public var description: String { message }
}
