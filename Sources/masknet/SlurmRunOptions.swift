import ArgumentParser
import Foundation
import MaskNetStages
import PipelineEngine
import SlurmExecution
#if canImport(Glibc)
import Glibc
#endif

/// The options of `masknet run` that concern the Slurm executor.
struct SlurmRunOptions: ParsableArguments {
    @Option(name: .long, help: "Slurm profile (YAML; Schemas/slurm-profile.schema.json): site account, partition, GPU spelling, submit rate, poll schedule, per-workload resources. `executor: slurm` in it selects Slurm.")
    var profile: String?
    @Flag(name: .long, inversion: .prefixedNo, help: "With --executor slurm: run cheap stages (splits, weight transfer, BN freezing) here instead of submitting them (default: the profile's local_cheap, on).")
    var localCheap: Bool?
    @Flag(name: .long, help: "With --executor slurm: submit every stage that will run as jobs chained by afterok dependencies, then exit; follow with `masknet status RUN --watch`.")
    var detach = false

    /// The profile file, or the built-in defaults.
    func loadProfile() throws -> SlurmProfile {
        var p = SlurmProfile()
        if let profile {
            p = try SlurmProfile(contentsOf: URL(fileURLWithPath: profile))
        }
        if let localCheap { p.localCheap = localCheap }
        return p
    }

    /// A client for the cluster that answers `scontrol ping`, or a clear error.
    static func client(_ profile: SlurmProfile) throws -> SlurmClient {
        let client = SlurmClient(submitsPerSecond: profile.submitsPerSecond)
        guard client.controllerIsUp() else {
            throw SlurmError(.unavailable, "--executor slurm: no Slurm controller answers `scontrol ping` from this machine (is Slurm installed and SLURM_CONF set?)")
        }
        return client
    }

    /// The Slurm executor for a pipeline: its `resources:`/`retries:`, the profile, and a `process` executor
    /// for cheap stages.
    func executor(for graph: PipelineGraph, profile: SlurmProfile) throws -> SlurmExecutor {
        let resources = try PipelineResources(graph.definition)
        let executable = RunEnvironment.executable()
        return SlurmExecutor(client: try SlurmRunOptions.client(profile), profile: profile, executable: executable,
                             stageResources: resources.resources, stageRetries: resources.retries,
                             local: ProcessExecutor(executable: executable))
    }

    /// `run --detach`: submits the chain and prints how to follow it.
    func detachRun(_ graph: PipelineGraph, stages: [String], force: [String], overrides: [String], store: ArtifactStore,
                   profile: SlurmProfile) throws {
        let resources = try PipelineResources(graph.definition)
        let plan = try Planner(store: store).plan(graph, stages: stages, force: force)
        guard force.isEmpty else { throw ValidationError("--detach does not take --force (each job reruns its stage only when it is not cached)") }
        let run = try DetachedRun.submit(graph: graph, plan: plan, overrides: overrides, store: store, client: try SlurmRunOptions.client(profile),
                                         profile: profile, resources: resources, executable: RunEnvironment.executable())
        FileHandle.standardError.write(Data("submitted \(run.jobs.count) stage(s) as Slurm jobs named \(run.jobName) (\(run.cached.count) already cached)\nfollow it with: masknet status \(run.id) --watch --store \(store.root.path)\n".utf8))
        emit(run.id + "\n")
    }

    /// `masknet status RUN [--watch]` for a detached run: one status query per round and the store's view
    /// (a stage is done when its result is a cache hit); exits 0 when every stage is done, 1 when a job failed.
    static func followDetached(_ id: String, store: ArtifactStore, watch: Bool) throws {
        let run = try DetachedRun.read(run: id, store: store)
        let graph = try loadGraph(run.pipelineFile, overrides: run.overrides)
        let profile = SlurmProfile()
        let client = try client(profile)
        var quiet = 0
        var last: [String] = []
        while true {
            let rows = try client.jobStates(named: run.jobName)
            let plan = try Planner(store: store).plan(graph, stages: run.jobs.map(\.stage))
            let done = Set(plan.filter { !$0.willRun }.map(\.stage))
            let (lines, finished, failed) = run.progress(rows: rows, done: done)
            if lines != last {
                emit("[\(ISO8601DateFormatter().string(from: Date()))] run \(run.id) (\(run.jobName))\n" + lines.map { "  " + $0 + "\n" }.joined())
                last = lines
                quiet = 0
            } else {
                quiet += 1
            }
            if finished { emit("run \(run.id): every stage is done; `masknet run \(run.pipelineFile)` now finds them all in the store\n"); return }
            if failed { throw ExitCode(1) }
            guard watch else { return }
            usleep(useconds_t(profile.poll.interval(afterQuietPolls: quiet) * 1_000_000))
        }
    }
}
