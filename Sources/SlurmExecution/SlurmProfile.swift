import Foundation
import PipelineEngine
import Yams

/// Site settings for running on Slurm, read from a profile file (`masknet run --profile FILE`); the schema is
/// `Schemas/slurm-profile.schema.json`. Every field has a documented default, so an empty profile is valid.
public struct SlurmProfile: Sendable, Equatable {
    /// Executor named by the profile (`executor: slurm`), so `--profile` alone selects Slurm.
    public var executor: String?
    /// Site defaults applied to every job (account, partition, qos, constraint, extra options…).
    public var defaults = StageResources()
    /// Per-workload defaults over the built-in ones (`resources: {training: {...}}`).
    public var workloadResources: [StageWorkload: StageResources] = [:]
    /// How GPUs are requested at this site.
    public var gpuSpelling = GPUSpelling.gres
    /// At most this many `sbatch` calls per second (a site's submit rate limit).
    public var submitsPerSecond = 2.0
    /// Never have more than this many jobs of this user queued or running (site `MaxSubmitJobs`), counting
    /// jobs that are not ours; array tasks count one each.
    public var maxJobsInQueue = 500
    /// At most this many tasks of one array run at once (`%P`); 0 leaves it to Slurm.
    public var arrayParallelism = 0
    /// The status-poll schedule (one query per poll for the whole run).
    public var poll = PollSchedule()
    /// How long a job that Slurm reports ended may take to show its status file or action record on the
    /// driver (shared-filesystem attribute caches) before it counts as lost.
    public var lostJobGraceSeconds = 30.0
    /// Resubmissions after a node failure, preemption or requeue (a stage's own `retries:` overrides it).
    public var infrastructureRetries = 1
    /// Seconds before the time limit that Slurm sends USR2 (`--signal=B:USR2@N`) so training pauses with a
    /// resumable checkpoint; 0 sends none (a job then runs into its limit, ends TIMEOUT, and is resubmitted
    /// from its last epoch checkpoint).
    public var signalSeconds = 120

    /// The `--signal` option of a job, if any.
    var signalOptions: [String] { signalSeconds > 0 ? ["--signal=B:USR2@\(signalSeconds)"] : [] }
    /// Run cheap stages on the driver instead of submitting them.
    public var localCheap = true

    /// The top-level keys a profile may have.
    public static let keys = ["executor", "account", "partition", "qos", "constraint", "extra", "gpu_spelling", "submits_per_second",
                              "max_jobs_in_queue", "array_parallelism", "poll", "lost_job_grace_seconds", "retries",
                              "signal_seconds", "local_cheap", "resources"]

    /// The built-in defaults.
    public init() {}

    /// Reads a profile file; every error names the file and the key.
    public init(contentsOf url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw SlurmError(.invalidConfiguration, "cannot read the Slurm profile \(url.path): \(error.localizedDescription)")
        }
        try self.init(yaml: text, file: url.path)
    }

    /// Reads a profile from YAML text; `file` names it in errors.
    public init(yaml text: String, file: String) throws {
        self.init()
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch {
            throw SlurmError(.invalidConfiguration, "\(file): not valid YAML: \(error)")
        }
        guard let top = loaded else { return }  // An empty file: all defaults.
        guard let map = top as? [String: Any] else {
            throw SlurmError(.invalidConfiguration, "\(file): a Slurm profile is a mapping of settings (see Schemas/slurm-profile.schema.json)")
        }
        func bad(_ key: String, _ what: String) -> SlurmError { SlurmError(.invalidConfiguration, "\(file): \(key): \(what)") }
        func number(_ key: String, _ value: Any, minimum: Double) throws -> Double {
            let v = (value as? Double) ?? (value as? Int).map(Double.init)
            guard let v, v.isFinite, v >= minimum else { throw bad(key, "expected a number ≥ \(minimum)") }
            return v
        }
        func integer(_ key: String, _ value: Any, minimum: Int) throws -> Int {
            guard let v = value as? Int, v >= minimum else { throw bad(key, "expected a whole number ≥ \(minimum)") }
            return v
        }
        var siteResources: [String: Any] = [:]
        for (key, value) in map {
            switch key {
            case "executor":
                guard let s = value as? String, ["slurm", "local"].contains(s) else { throw bad(key, "expected slurm or local") }
                executor = s
            case "account", "partition", "qos", "constraint", "extra": siteResources[key] = value
            case "gpu_spelling":
                guard let s = value as? String, let g = GPUSpelling(rawValue: s) else {
                    throw bad(key, "expected gres (--gres=gpu:N) or gpus (--gpus=N)")
                }
                gpuSpelling = g
            case "submits_per_second": submitsPerSecond = try number(key, value, minimum: 0.01)
            case "max_jobs_in_queue": maxJobsInQueue = try integer(key, value, minimum: 1)
            case "array_parallelism": arrayParallelism = try integer(key, value, minimum: 0)
            case "lost_job_grace_seconds": lostJobGraceSeconds = try number(key, value, minimum: 0)
            case "retries": infrastructureRetries = try integer(key, value, minimum: 0)
            case "signal_seconds": signalSeconds = try integer(key, value, minimum: 0)
            case "local_cheap":
                guard let b = value as? Bool else { throw bad(key, "expected true or false") }
                localCheap = b
            case "poll":
                guard let p = value as? [String: Any] else { throw bad(key, "expected {initial_seconds, max_seconds, growth}") }
                for (k, v) in p {
                    switch k {
                    case "initial_seconds": poll.initialSeconds = try number("poll.\(k)", v, minimum: 0.05)
                    case "max_seconds": poll.maxSeconds = try number("poll.\(k)", v, minimum: 0.05)
                    case "growth": poll.growth = try number("poll.\(k)", v, minimum: 1)
                    default: throw bad("poll.\(k)", "unknown setting; known: initial_seconds, max_seconds, growth")
                    }
                }
                if poll.maxSeconds < poll.initialSeconds { throw bad("poll.max_seconds", "must be at least poll.initial_seconds") }
            case "resources":
                guard let r = value as? [String: Any] else { throw bad(key, "expected a mapping from workload (cheap, evaluation, training) to resources") }
                for (w, spec) in r {
                    guard let workload = StageWorkload(rawValue: w) else {
                        throw bad("resources.\(w)", "unknown workload; known: \(StageWorkload.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    guard let m = spec as? [String: Any] else { throw bad("resources.\(w)", "expected a resources mapping") }
                    workloadResources[workload] = try StageResources(mapping: m, origin: "\(file): resources.\(w)")
                }
            default:
                let hint = SlurmProfile.keys.min { _editDistanceCount($0, key) < _editDistanceCount($1, key) }
                throw SlurmError(.invalidConfiguration, "\(file): unknown setting '\(key)'" + (hint.map { " (did you mean '\($0)'?)" } ?? "")
                                 + "; see Schemas/slurm-profile.schema.json")
            }
        }
        defaults = try StageResources(mapping: siteResources, origin: file)
    }

    /// The resources a stage gets: its own `resources:` over the profile's workload defaults, over the profile's
    /// site defaults, over the built-in workload defaults.
    public func resources(for workload: StageWorkload, stage: StageResources) -> StageResources {
        stage.merged(over: (workloadResources[workload] ?? StageResources())
            .merged(over: defaults.merged(over: SlurmProfile.builtInResources(workload))))
    }

    /// Built-in defaults: training asks for the most time and memory, cheap stages the least.
    public static func builtInResources(_ workload: StageWorkload) -> StageResources {
        switch workload {
        case .cheap: return StageResources(cpus: 1, memoryMiB: 2048, timeMinutes: 30)
        case .evaluation: return StageResources(cpus: 2, memoryMiB: 8192, timeMinutes: 4 * 60)
        case .training: return StageResources(cpus: 4, memoryMiB: 16384, timeMinutes: 48 * 60)
        }
    }
}
