import Foundation

/// How a waiter asks whether the scheduler job named in a stage lease still runs.
///
/// The engine knows no scheduler: the Slurm executor installs its answer (one `squeue` for the job) when
/// masknet starts. Without one installed, or when the scheduler cannot be asked, the answer is unknown
/// and the lease falls back to the pid (same host) or the orphan grace (another host).
public enum StageLockLiveness {
    /// Answers true (queued or running), false (ended or unknown to the scheduler), nil (cannot tell).
    public typealias JobProbe = @Sendable (String) -> Bool?

    private static let lock = NSLock()
    // nonisolated(unsafe): read and written only under `lock` (`install`, `jobIsRunning`).
    nonisolated(unsafe) private static var probe: JobProbe?

    /// Installs the probe for job ids recorded in leases.
    public static func install(_ probe: @escaping JobProbe) {
        lock.lock(); defer { lock.unlock() }
        self.probe = probe
    }

    /// Whether `job` is still queued or running; nil when no probe is installed or it cannot tell.
    public static func jobIsRunning(_ job: String) -> Bool? {
        lock.lock()
        let probe = self.probe
        lock.unlock()
        return probe?(job)
    }
}
