import Foundation
import PipelineEngine

/// A run submitted with `--detach`: every stage that will run is a Slurm job chained to its upstream jobs
/// with `--dependency=afterok:`, and the driver exits. Recorded in `runs/<id>/detached.json`; followed by
/// `masknet status RUN --watch`; a later `masknet run` of the same pipeline picks up what finished, because
/// each job publishes into the store like any run.
///
/// A stage's key depends on its upstream outputs, which do not exist yet when the chain is submitted, so
/// each job runs `masknet run PIPELINE --stage NAME` on the run's copy of the pipeline file: its upstream
/// stages are cache hits by then (afterok), and it computes its own key on the node.
public struct DetachedRun: Codable, Sendable, Equatable {
    /// One submitted stage.
    public struct Job: Codable, Sendable, Equatable {
        /// The stage (cell) name.
        public var stage: String
        /// The Slurm job id (the array's id for a cell).
        public var jobID: String
        /// The array index, nil for a plain job.
        public var arrayIndex: Int?
        /// Stages whose jobs must succeed first.
        public var after: [String]
        /// The job's log.
        public var log: String

        enum CodingKeys: String, CodingKey {
            case stage, log, after
            case jobID = "job_id", arrayIndex = "array_index"
        }
    }

    /// The run id (a folder under `runs/`).
    public var id: String
    /// The pipeline name.
    public var pipeline: String
    /// The run-specific job name every job carries.
    public var jobName: String
    /// The copy of the pipeline file the jobs run.
    public var pipelineFile: String
    /// The `--set` overrides every job passes on.
    public var overrides: [String]
    /// The submitted stages, in execution order.
    public var jobs: [Job]
    /// Stages that were already in the store (not submitted).
    public var cached: [String]
    /// When the chain was submitted.
    public var submittedAt: String

    enum CodingKeys: String, CodingKey {
        case id, pipeline, jobs, cached, overrides
        case jobName = "job_name", pipelineFile = "pipeline_file", submittedAt = "submitted_at"
    }

    /// The file name in the run folder.
    public static let fileName = "detached.json"

    /// Reads `runs/<id>/detached.json`.
    public static func read(run: String, store: ArtifactStore) throws -> DetachedRun {
        let url = store.runFolder(run).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SlurmError(.invalidConfiguration, "run \(run) was not submitted with --detach (no \(url.path)); `masknet status` lists the runs")
        }
        do { return try JSONDecoder().decode(DetachedRun.self, from: data) } catch {
            throw SlurmError(.invalidConfiguration, "\(url.path) is unreadable (\(error)); the run's jobs are named in squeue by their job name")
        }
    }

    /// Submits the stages of `graph` that `plan` says will run, chained by `afterok`, and records the run.
    /// Cells of one stage with the same upstream go out as one array.
    ///
    /// - Parameters:
    ///   - overrides: the `--set` values, passed on to every job.
    public static func submit(graph: PipelineGraph, plan: [PlanEntry], overrides: [String], store: ArtifactStore, client: SlurmClient,
                              profile: SlurmProfile, resources: PipelineResources, executable: URL) throws -> DetachedRun {
        let willRun = Set(plan.filter(\.willRun).map(\.stage))
        let id = "\(DetachedRun.timestamp())-\(graph.definition.name)-detached-\(UUID().uuidString.prefix(6).lowercased())"
        let folder = store.runFolder(id)
        let slurmFolder = folder.appendingPathComponent("slurm")
        try FileManager.default.createDirectory(at: slurmFolder, withIntermediateDirectories: true)
        let pipelineCopy = folder.appendingPathComponent("pipeline.yaml")
        try store.writeAtomically(Data(graph.definition.sourceText.utf8), to: pipelineCopy, durable: true)
        let jobName = "mn-" + id
        var run = DetachedRun(id: id, pipeline: graph.definition.name, jobName: jobName, pipelineFile: pipelineCopy.path, overrides: overrides, jobs: [],
                              cached: graph.stages.map(\.name).filter { !willRun.contains($0) }, submittedAt: _isoNow())
        let maxArray = try client.maxArraySize()
        var jobOf: [String: String] = [:]  // stage → Slurm job id to depend on

        // Group runnable stages: cells of one base stage with identical upstream form one array.
        var groups: [(stages: [ResolvedStage], after: [String])] = []
        for s in graph.stages where willRun.contains(s.name) {
            let after = s.dependencies.filter { willRun.contains($0) }
            let upstreamBases = Set(after)
            if let i = groups.lastIndex(where: { $0.stages[0].baseName == s.baseName && Set($0.after) == upstreamBases }) {
                groups[i].stages.append(s)
            } else {
                groups.append(([s], after))
            }
        }
        var setArguments: [String] = []
        for o in overrides { setArguments += ["--set", o] }
        for group in groups {
            let first = group.stages[0]
            let stageResources = profile.resources(for: first.kind.workload, stage: resources.resources[first.baseName] ?? StageResources())
            let dependencies = Set(group.after.compactMap { jobOf[$0] }).sorted()
            let plan = JobArrayPlan(count: group.stages.count, maxArraySize: group.stages.count > 1 ? maxArray : 1)
            for chunk in plan.chunks {
                let stages = Array(group.stages[chunk.offset ..< chunk.offset + chunk.count])
                let asArray = group.stages.count > 1
                let logFolder = slurmFolder.appendingPathComponent(_folderName(first.baseName))
                try FileManager.default.createDirectory(at: logFolder, withIntermediateDirectories: true)
                let names = "(" + stages.map { BatchScript.quote($0.name) }.joined(separator: " ") + ")"
                let script = """
                    #!/bin/bash
                    # Written by `masknet run --detach`: one stage of a detached run (upstream stages are cache hits by now).
                    set -u
                    stages=\(names)
                    stage=${stages[${SLURM_ARRAY_TASK_ID:-0}]}
                    echo "masknet detached job ${SLURM_JOB_ID:-?} on $(hostname): stage $stage"
                    exec \(BatchScript.quote(executable.path)) run \(BatchScript.quote(pipelineCopy.path)) --stage "$stage" --store \(BatchScript.quote(store.root.path)) --quiet \(setArguments.map(BatchScript.quote).joined(separator: " "))

                    """
                var options = ["--job-name=\(jobName)", "--no-requeue"] + profile.signalOptions + ["--kill-on-invalid-dep=yes",
                               "--chdir=\(FileManager.default.currentDirectoryPath)", "--export=ALL",
                               asArray ? "--output=\(logFolder.path)/%A_%a.log" : "--output=\(logFolder.path)/%j.log"]
                if asArray { options.append(JobArrayPlan.Chunk(offset: 0, count: stages.count).arrayOption(parallelism: profile.arrayParallelism)) }
                if !dependencies.isEmpty { options.append("--dependency=afterok:" + dependencies.joined(separator: ":")) }
                options += stageResources.sbatchOptions(gpuSpelling: profile.gpuSpelling)
                let jobID: String
                do { jobID = try client.submit(script: script, options: options) } catch {
                    // Leave nothing half-submitted behind: cancel what this run already queued.
                    try? client.cancelAll(named: jobName)
                    throw error
                }
                for (index, s) in stages.enumerated() {
                    jobOf[s.name] = jobID
                    run.jobs.append(Job(stage: s.name, jobID: jobID, arrayIndex: asArray ? index : nil, after: group.after,
                                        log: logFolder.appendingPathComponent(asArray ? "\(jobID)_\(index).log" : "\(jobID).log").path))
                }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try store.writeAtomically(try encoder.encode(run), to: folder.appendingPathComponent(fileName), durable: true)
        return run
    }

    /// One line per stage of a detached run, from ONE status query and the store (`done` comes from the
    /// caller, who knows which stages are cache hits now).
    public func progress(rows: [SlurmJobStatus], done: Set<String>) -> (lines: [String], finished: Bool, failed: Bool) {
        var lines: [String] = []
        var finished = true, failed = false
        for s in cached { lines.append("\(s): cached before submission") }
        for job in jobs {
            let row = rows.first { job.arrayIndex == nil ? $0.jobID == job.jobID : ($0.arrayJobID == job.jobID && $0.arrayIndex == job.arrayIndex) }
            let id = job.arrayIndex.map { "\(job.jobID)_\($0)" } ?? job.jobID
            if done.contains(job.stage) {
                lines.append("\(job.stage): done (job \(id)\(row.map { " on \($0.nodes)" } ?? ""))")
                continue
            }
            guard let row else {
                lines.append("\(job.stage): job \(id) no longer known to Slurm and not in the store; see \(job.log)")
                failed = true
                continue
            }
            if row.state.isTerminal {
                // COMPLETED but not yet in the store: the shared filesystem may lag; anything else failed.
                if row.state == .completed { finished = false } else { failed = true }
                lines.append("\(job.stage): job \(id) \(row.state)\(row.reason == "None" ? "" : " (\(row.reason))"); log \(job.log)")
            } else {
                finished = false
                lines.append("\(job.stage): job \(id) \(row.state)" + (row.nodes.isEmpty ? " (\(row.reason))" : " on \(row.nodes)"))
            }
        }
        return (lines, finished && !failed, failed)
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: Date())
    }
}

/// ISO 8601 UTC now.
func _isoNow() -> String { ISO8601DateFormatter().string(from: Date()) }
