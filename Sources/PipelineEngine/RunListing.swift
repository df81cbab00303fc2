import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `masknet status` lists: the store's recent runs, each with the status a reader should see.
public enum RunListing {
    /// How a run's recorded status reads now. A record says `running` until its runner finishes it; a runner
    /// killed with SIGKILL (or a machine that went down) never does, so a `running` record whose runner
    /// process is gone was interrupted. The process can only be probed on the host that started it: a run
    /// from another host (a shared store on a cluster) says where it runs instead of guessing.
    ///
    /// - Parameters:
    ///   - localHost: this machine's host name (`localHostName()`).
    ///   - processExists: whether a pid is alive here (`RunListing.processExists`).
    public static func displayedStatus(of run: RunRecord, localHost: String,
                                       processExists: (Int32) -> Bool = RunListing.processExists) -> String {
        guard run.status == .running else { return run.status.rawValue }
        if let host = run.environment["host"], host != localHost { return "running (on \(host))" }
        return processExists(run.pid) ? "running" : "interrupted (runner gone)"
    }

    /// Whether process `pid` exists on this machine: `kill(pid, 0)` succeeds, or fails only for lack of
    /// permission (another user's process is still a live process).
    public static func processExists(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// The listing: the store, the stage keys being computed now, and a Markdown table of the `limit` most
    /// recent runs (run, pipeline, displayed status, computed / cached / failed stages, gates passed).
    public static func text(runs: [RunRecord], storeRoot: URL, heldLocks: [(key: String, holder: String)], limit: Int,
                            localHost: String, processExists: (Int32) -> Bool = RunListing.processExists) -> String {
        var out = "store \(storeRoot.path): \(runs.count) run\(runs.count == 1 ? "" : "s")\n"
        for (key, holder) in heldLocks { out += "computing now: \(key.prefix(12)) (\(holder))\n" }
        out += "\n| run | pipeline | status | computed | cached | failed | gates |\n|---|---|---|---|---|---|---|\n"
        for run in runs.prefix(max(limit, 0)) {
            let status = displayedStatus(of: run, localHost: localHost, processExists: processExists)
            let computed = run.stages.filter { $0.status == .computed }.count
            let cached = run.stages.filter { $0.status == .cached }.count
            let failed = run.stages.filter { $0.status == .failed || $0.status == .interrupted }.count
            let gates = run.verdicts.isEmpty ? "" : "\(run.verdicts.filter(\.passed).count)/\(run.verdicts.count) pass"
            out += "| \(run.id) | \(run.pipeline) | \(status) | \(computed) | \(cached) | \(failed) | \(gates) |\n"
        }
        return out
    }
}
