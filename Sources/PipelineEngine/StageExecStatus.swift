import Foundation

/// The status file an executed stage leaves behind: how the scheduler learns a stage's outcome from the
/// store (or a shared filesystem) rather than from memory, whichever executor ran it.
///
/// Written atomically as JSON by `masknet stage exec --status-file FILE`, by the in-process executor, and
/// by an executor on behalf of a stage that died without writing one (killed by a signal, out of memory,
/// cancelled by the batch system). Fields (snake case in the file):
/// `format` (1), `key`, `stage`, `outcome` (`computed`, `cached`, `failed`, `interrupted`),
/// `exit_code` (0 when the action record is published), `message`, `wall_seconds`, `log` (the failure
/// log as a stored artifact, when there is one), `host`, `pid`, `finished_at` (ISO 8601).
/// When `outcome` is `computed` or `cached`, the action record `actions/<key>.json` is the result.
public struct StageExecStatus: Codable, Sendable, Equatable {
    /// What happened to the stage.
    public enum Outcome: String, Codable, Sendable {
        /// Executed here and published.
        case computed
        /// Published by another process while this one waited for the key's lock (or before).
        case cached
        /// Failed; nothing was published.
        case failed
        /// Stopped by a signal or cancellation; nothing was published.
        case interrupted
    }

    /// The file format version.
    public static let currentFormat = 1

    /// File format version.
    public var format: Int
    /// The full stage key.
    public var key: String
    /// The stage name it ran as.
    public var stage: String
    /// What happened.
    public var outcome: Outcome
    /// The process exit code of `stage exec` (0 when published).
    public var exitCode: Int32
    /// One line for the user.
    public var message: String
    /// Wall seconds of the attempt, if it started.
    public var wallSeconds: Double?
    /// The failure log as a stored artifact.
    public var log: Artifact?
    /// Where it ran.
    public var host: String
    /// The process that wrote the file.
    public var pid: Int32
    /// When it was written.
    public var finishedAt: String

    enum CodingKeys: String, CodingKey {
        case format, key, stage, outcome, message, log, host, pid
        case exitCode = "exit_code", wallSeconds = "wall_seconds", finishedAt = "finished_at"
    }

    /// A status stamped with this process, host and time.
    public init(key: String, stage: String, outcome: Outcome, message: String, wallSeconds: Double? = nil, log: Artifact? = nil) {
        self.format = StageExecStatus.currentFormat
        self.key = key; self.stage = stage; self.outcome = outcome
        self.exitCode = outcome == .computed || outcome == .cached ? 0 : (outcome == .interrupted ? 130 : 1)
        self.message = message; self.wallSeconds = wallSeconds; self.log = log
        self.host = localHostName(); self.pid = getpid(); self.finishedAt = _now()
    }

    /// Whether the action record of `key` holds the result.
    public var isPublished: Bool { outcome == .computed || outcome == .cached }

    /// Writes the file atomically and durably (a scheduler on another node may read it next).
    public func write(to url: URL, store: ArtifactStore) throws {
        try store.writeAtomically(try _JSON.encode(self), to: url)
    }

    /// Reads a status file; nil when it does not exist (the stage has not ended, or died silently).
    public static func read(_ url: URL) throws -> StageExecStatus? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do { return try _JSON.decode(StageExecStatus.self, from: data) } catch {
            throw EngineError("status file \(url.path) is unreadable (\(error)); delete it and rerun the stage")
        }
    }
}
