import Foundation
import PipelineEngine

extension SlurmClient {
    /// Whether job `id` is still queued or running: true or false from `squeue --states=all -j ID`
    /// (a job Slurm no longer knows has ended), nil when Slurm cannot be asked (no squeue, controller down).
    public func jobIsRunning(_ id: String) -> Bool? {
        guard let r = try? commandLine.run("squeue", ["--noheader", "--states=all", "--jobs=\(id)", "--format=%T"]) else { return nil }
        guard r.succeeded else { return r.error.contains("Invalid job id") ? false : nil }
        let states = r.output.split(separator: "\n").map { SlurmJobState(rawValue: String($0)) }
        guard !states.isEmpty else { return false }
        return states.contains { !$0.isTerminal }
    }

    /// Lets stage leases ask Slurm whether a holder's job still runs (see `StageLock`); installed by
    /// masknet at start. Costs nothing unless a waiter finds a stale lease naming a job.
    public static func installLeaseLiveness(commandLine: SlurmCommandLine = SlurmCommandLine()) {
        guard SlurmCommandLine.locate("squeue") != nil else { return }
        let client = SlurmClient(commandLine: commandLine)
        StageLockLiveness.install { client.jobIsRunning($0) }
    }
}
