import Foundation

/// A job's state as Slurm names it (`squeue %T`, `sacct State`, `scontrol JobState`).
public struct SlurmJobState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The upper-case name (`RUNNING`, `OUT_OF_MEMORY`…).
    public let rawValue: String

    /// Wraps a state name; `sacct`'s `CANCELLED by 0` is reduced to `CANCELLED`.
    public init(rawValue: String) {
        self.rawValue = String(rawValue.split(separator: " ").first ?? "").uppercased()
    }

    /// The name.
    public var description: String { rawValue }

    /// Waiting to start (or to be started again).
    public var isQueued: Bool { ["PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED", "STOPPED"].contains(rawValue) }
    /// Started and not yet ended.
    public var isRunning: Bool { ["RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"].contains(rawValue) }
    /// Ended: Slurm will not run this job again by itself (we submit with `--no-requeue`).
    public var isTerminal: Bool { !isQueued && !isRunning }
    /// Pending reasons that never clear for this job: it asks for more than its partition, QOS or association
    /// allows per job (`PartitionTimeLimit`, `QOSMaxWallDurationPerJobLimit`…), or names an invalid QOS/account.
    /// Limits on the user's running total (`QOSMaxJobsPerUserLimit`, `AssocGrpCPULimit`…) clear as other jobs end.
    public static func isPermanentLimit(reason: String) -> Bool {
        ["PartitionTimeLimit", "PartitionNodeLimit", "InvalidQOS", "InvalidAccount"].contains(reason)
            || reason.range(of: "^(QOS|Assoc)Max[A-Za-z]*PerJob(Limit)?$", options: .regularExpression) != nil
    }

    /// Ended because of the machine, not the stage (worth a resubmission under `retries`).
    public var isInfrastructureFailure: Bool { ["NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"].contains(rawValue) }

    /// Slurm's states used by name in the executor.
    public static let pending = SlurmJobState(rawValue: "PENDING")
    public static let running = SlurmJobState(rawValue: "RUNNING")
    public static let completed = SlurmJobState(rawValue: "COMPLETED")
    public static let failed = SlurmJobState(rawValue: "FAILED")
    public static let cancelled = SlurmJobState(rawValue: "CANCELLED")
    public static let timeout = SlurmJobState(rawValue: "TIMEOUT")
    public static let outOfMemory = SlurmJobState(rawValue: "OUT_OF_MEMORY")
    public static let nodeFail = SlurmJobState(rawValue: "NODE_FAIL")
    public static let preempted = SlurmJobState(rawValue: "PREEMPTED")
}

/// One row of a status query: a job, or one task of an array.
public struct SlurmJobStatus: Sendable, Equatable {
    /// The task's own job id (for an array task that has started; the array's id while it is pending).
    public var jobID: String
    /// The array's job id (equal to `jobID` for a plain job).
    public var arrayJobID: String
    /// The array index, nil for a plain job.
    public var arrayIndex: Int?
    /// The state.
    public var state: SlurmJobState
    /// Slurm's reason (why pending, or why it ended).
    public var reason: String
    /// The node(s), empty while pending.
    public var nodes: String
    /// The job name.
    public var name: String
    /// When the job was submitted (`%V`).
    public var submitTime: Date? = nil
    /// When it started (`%S`; Slurm's estimate while pending, so read only once it runs).
    public var startTime: Date? = nil
    /// Seconds it has run (`%M`; final once it ended).
    public var timeUsedSeconds: Double? = nil
}
