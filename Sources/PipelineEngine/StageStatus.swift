/// What became of one stage in a run (stored in `run.json` as its raw value).
public enum StageStatus: String, Codable, Sendable, CustomStringConvertible {
    /// Executed in this run and published.
    case computed
    /// Its verified result was already in the store.
    case cached
    /// Executed and failed (nothing was cached).
    case failed
    /// Not started: an upstream stage did not finish, or the run stopped after a failure.
    case skipped
    /// Stopped by SIGINT/SIGTERM, or not started because of it.
    case interrupted

    /// Whether the stage has no usable result in this run.
    public var isUnfinished: Bool { self == .failed || self == .skipped || self == .interrupted }

    public var description: String { rawValue }
}

/// The state of a whole run (stored in `run.json` as its raw value).
public enum RunStatus: String, Codable, Sendable, CustomStringConvertible {
    /// Still going (or its runner died: see `RunRecord.pid`).
    case running
    /// Every stage finished and every gate passed.
    case succeeded
    /// A stage failed or was skipped.
    case failed
    /// Every stage finished but a metric gate failed.
    case gatesFailed = "gates_failed"
    /// Stopped by SIGINT/SIGTERM.
    case interrupted

    public var description: String { rawValue }
}
