import Foundation

/// Where a batch executor ran a stage, and the batch system's own account of it, kept in the run record
/// beside the stage's wall time and peak memory as the stage measured them.
///
/// The engine knows no batch system: the executor writes this next to the job's status file
/// (`runs/<id>/placement/<stage>.json`) before it reports the job finished, and the runner copies it
/// into `run.json`. In-process and child-process execution leave it out.
public struct StagePlacement: Codable, Sendable, Equatable {
    /// The executor (`slurm`).
    public var executor: String
    /// The batch job (`123`, or `120_2` for an array task).
    public var job: String?
    /// The node(s) it ran on.
    public var node: String?
    /// Seconds from submission to start (of the last attempt).
    public var queueWaitSeconds: Double?
    /// The batch system's elapsed time of the last attempt.
    public var elapsedSeconds: Double?
    /// The batch system's peak resident memory of the job, in bytes, when it measured one.
    public var maxRSSBytes: Int?
    /// Where the figures come from (e.g. `squeue (times), sstat (MaxRSS sampled while running)`).
    public var source: String?
    /// Submissions (more than one after a resubmission).
    public var attempts: Int?
    /// The job's log, relative to the run folder.
    public var log: String?

    /// Creates a placement.
    public init(executor: String, job: String? = nil, node: String? = nil, queueWaitSeconds: Double? = nil, elapsedSeconds: Double? = nil,
                maxRSSBytes: Int? = nil, source: String? = nil, attempts: Int? = nil, log: String? = nil) {
        self.executor = executor; self.job = job; self.node = node; self.queueWaitSeconds = queueWaitSeconds
        self.elapsedSeconds = elapsedSeconds; self.maxRSSBytes = maxRSSBytes; self.source = source; self.attempts = attempts; self.log = log
    }

    /// One line for reports: `job 12_3 on node1, queued 1.2 s, ran 3.0 s, MaxRSS 62 MiB`.
    public var summary: String {
        var parts: [String] = []
        if let job { parts.append("job \(job)" + (node.map { $0.isEmpty ? "" : " on \($0)" } ?? "")) }
        if let queueWaitSeconds { parts.append(String(format: "queued %.1f s", queueWaitSeconds)) }
        if let elapsedSeconds { parts.append(String(format: "ran %.0f s", elapsedSeconds)) }
        parts.append(maxRSSBytes.map { String(format: "MaxRSS %.0f MiB", Double($0) / 1_048_576) } ?? "MaxRSS not measured")
        if let attempts, attempts > 1 { parts.append("\(attempts) attempts") }
        return parts.joined(separator: ", ")
    }
}

extension StageJob {
    /// Where an executor leaves the job's `StagePlacement`: `runs/<id>/placement/<stage>.json`.
    public var placementFile: URL {
        statusFile.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("placement").appendingPathComponent(statusFile.lastPathComponent)
    }

    /// Records where the job ran (before reporting it finished).
    public func recordPlacement(_ placement: StagePlacement) {
        let url = placementFile
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try? encoder.encode(placement).write(to: url, options: .atomic)
    }

    /// The placement an executor recorded, if any.
    public func readPlacement() -> StagePlacement? {
        guard let data = FileManager.default.contents(atPath: placementFile.path) else { return nil }
        return try? JSONDecoder().decode(StagePlacement.self, from: data)
    }
}
