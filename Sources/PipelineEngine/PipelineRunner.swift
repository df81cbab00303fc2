import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Something the runner reports while it works (rendered live, as log lines, or as JSON).
public enum RunEvent: Sendable {
    /// The run started (id, number of selected stages).
    case runStarted(id: String, stages: Int)
    /// A stage's result was found in the store and verified.
    case stageCached(stage: String, key: String)
    /// A stage started computing, with why.
    case stageStarted(stage: String, key: String, reason: String)
    /// Progress inside a stage.
    case progress(stage: String, StageProgress)
    /// A stage was computed and published.
    case stageFinished(stage: String, seconds: Double)
    /// A stage failed (never cached).
    case stageFailed(stage: String, message: String)
    /// A stage was not run (upstream failure, or stop after failure).
    case stageSkipped(stage: String, reason: String)
    /// Waiting for another process that computes the same key.
    case waiting(stage: String, holder: String)
    /// A cache entry was damaged and will be recomputed.
    case damaged(stage: String, problem: String)
    /// The run finished.
    case runFinished(id: String, status: RunStatus, exitCode: Int32)
}

/// Options of one run.
public struct RunOptions: Sendable {
    /// Stages to run (with their upstream); empty means all.
    public var stages: [String] = []
    /// Stages to recompute even if cached.
    public var force: [String] = []
    /// Maximum concurrent stages.
    public var jobs: Int = 1
    /// Continue with independent branches after a failure.
    public var keepGoing = false
    /// Where to write a JUnit XML report (also written into the run folder).
    public var junit: URL?
    /// Where ready stages execute (default: in this process).
    public var executor: any Executor = LocalExecutor()
    /// Environment description for the run record (tool version, OS, CPU, BLAS…).
    public var environment: [String: String] = [:]
    /// What `no_worse_than: baseline` gates compare with (`--baseline RUN|FILE`).
    public var baseline: MetricsSnapshot?

    /// Default options.
    public init() {}
}

/// Schedules a pipeline run over a store: walks the DAG, asks `StageCache` whether each ready stage is
/// stored (and why not), hands the rest to an `Executor`, and records the run.
///
/// The scheduler is a task group with at most `--jobs` stages in flight; the executor decides where
/// they run. Outcomes are read back from the store (`StageCache.outcome`), never taken from memory.
///
/// Unchecked Sendable: `_cancelled` and `_task` are read and written under `_lock`; `store` and `cache`
/// are `let`s of Sendable types.
public final class PipelineRunner: @unchecked Sendable {
    /// The store.
    public let store: ArtifactStore
    private let cache: StageCache
    private let _lock = NSLock()
    private var _cancelled = false
    private var _task: Task<RunRecord, any Error>?

    /// Creates a runner over a store.
    public init(store: ArtifactStore) {
        self.store = store
        self.cache = StageCache(store: store)
    }

    /// Interrupts the run: running stages are cancelled, nothing new starts (safe from any thread).
    public func cancel() {
        _lock.lock()
        _cancelled = true
        let task = _task
        _lock.unlock()
        task?.cancel()
    }

    var isCancelled: Bool { _lock.lock(); defer { _lock.unlock() }; return _cancelled }

    /// Runs the graph and returns the run record (also written to `runs/<id>/`); blocks until done.
    public func run(_ graph: PipelineGraph, options: RunOptions, events: @escaping @Sendable (RunEvent) -> Void) throws -> RunRecord {
        // Unchecked Sendable: the task writes `value` before `done.signal()`; it is read only after `done.wait()`.
        final class Result: @unchecked Sendable { var value: Swift.Result<RunRecord, any Error>? }
        let result = Result()
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            defer { done.signal() }
            do { let r = try await self.runAsync(graph, options: options, events: events); result.value = .success(r); return r } catch {
                result.value = .failure(error); throw error
            }
        }
        _lock.lock()
        _task = task
        let cancelledEarly = _cancelled
        _lock.unlock()
        if cancelledEarly { task.cancel() }
        done.wait()
        _lock.lock(); _task = nil; _lock.unlock()
        return try result.value!.get()
    }

    private enum State { case waiting, running, done([String: Artifact]), failed, skipped }

    /// Runs the graph (the scheduler). Cancelling the calling task interrupts the run.
    public func runAsync(_ graph: PipelineGraph, options: RunOptions, events: @escaping @Sendable (RunEvent) -> Void) async throws -> RunRecord {
        let selected = options.stages.isEmpty ? Set(graph.stages.map(\.name)) : try graph.selection(options.stages)
        let forced = try graph.matching(options.force)
        let order = graph.stages.filter { selected.contains($0.name) }
        let id = PipelineRunner.newRunID(graph.definition.name)
        let folder = store.runFolder(id)
        for sub in ["logs", "status"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        // A shared lock on the store keeps `gc` from collecting objects this run is about to reference.
        let gcGuard = try StoreGuard.shared(store)
        defer { gcGuard.release() }

        var record = RunRecord(id: id, pipeline: graph.definition.name, file: graph.definition.file.relativePathForDisplay,
                               seed: String(graph.definition.seed), overrides: graph.definition.overrides, startedAt: _now(),
                               finishedAt: nil, status: .running, exitCode: nil, pid: getpid(), environment: options.environment,
                               stages: [])
        record.executor = options.executor.name
        try store.writeAtomically(Data(graph.definition.sourceText.utf8), to: folder.appendingPathComponent("pipeline.yaml"), durable: false)
        try store.writeAtomically(try _JSON.encode(record), to: folder.appendingPathComponent("run.json"), durable: false)
        events(.runStarted(id: id, stages: order.count))

        var states = Dictionary(order.map { ($0.name, State.waiting) }, uniquingKeysWith: { a, _ in a })
        var stageRecords: [String: StageRunRecord] = [:]
        var inFlight: [String: (stage: ResolvedStage, reasons: [String], job: StageJob)] = [:]
        var stopNew = false
        let jobs = max(1, options.jobs)
        let history = RunHistory(store: store)
        let executor = options.executor
        let (finishedJobs, finishedSink) = AsyncStream.makeStream(of: StageJob.self)
        let callbacks = ExecutorCallbacks(
            finished: { finishedSink.yield($0) },
            progress: { job, p in events(.progress(stage: job.stage, p)) },
            waiting: { job, holder in events(.waiting(stage: job.stage, holder: holder)) })

        /// Decides every stage that can be decided now: skips, cache hits (which may make more stages
        /// ready), and up to the free slots of stages to execute, returned as one batch.
        func decide() -> [StageJob] {
            var batch: [StageJob] = []
            var changed = true
            while changed {
                changed = false
                for s in order {
                    guard case .waiting = states[s.name]! else { continue }
                    var ready = true
                    var blocked: String?
                    for d in s.dependencies {
                        switch states[d] {
                        case .done?: continue
                        case .failed?, .skipped?: blocked = d
                        default: ready = false
                        }
                    }
                    if let b = blocked {
                        states[s.name] = .skipped
                        stageRecords[s.name] = PipelineRunner.stub(s, status: .skipped, reason: "upstream stage '\(b)' did not finish")
                        events(.stageSkipped(stage: s.name, reason: "upstream stage '\(b)' did not finish"))
                        changed = true
                        continue
                    }
                    // A batched job is already in `inFlight`: counting the batch too let `--jobs 2` run one stage at a time.
                    guard ready, !stopNew, !Task.isCancelled, inFlight.count < jobs else { continue }
                    var upstream: [String: [String: Artifact]] = [:]
                    for d in s.dependencies { if case .done(let o)? = states[d] { upstream[d] = o } }
                    let isForced = forced.contains(s.name)
                    var rec = PipelineRunner.stub(s, status: .failed, reason: "")
                    // Building the spec and storing it are the two steps that can fail before the stage starts.
                    let spec: StageSpec, reasons: [String]
                    do {
                        spec = try cache.spec(s, upstream: upstream, files: .importing)
                        var damage: String?
                        if !isForced {
                            switch cache.lookup(spec.key, repair: true) {
                            case .hit(let hit):
                                events(.stageCached(stage: s.name, key: spec.key))
                                rec.key = spec.key; rec.components = spec.components
                                stageRecords[s.name] = finish(rec, s, hit, status: .cached, reason: "up to date")
                                states[s.name] = .done(hit.outputs)
                                changed = true
                                continue
                            case .damaged(let problem):
                                damage = problem
                                events(.damaged(stage: s.name, problem: "\(problem); recomputing"))
                            case .miss: break
                            }
                        }
                        reasons = StageCache.reasons(s, now: spec, last: cache.lastRun(s, pipeline: graph.definition.name, history: history),
                                                         pendingUpstream: [], forced: isForced, damage: damage)
                        try store.writeSpec(spec.key, spec.data)
                    } catch {
                        rec.reason = "\(error)"
                        events(.stageFailed(stage: s.name, message: "\(error)"))
                        stageRecords[s.name] = rec
                        states[s.name] = .failed
                        if !options.keepGoing { stopNew = true }
                        changed = true
                        continue
                    }
                    let file = PipelineRunner.fileName(s.name)
                    let statusFile = folder.appendingPathComponent("status/\(file).json")
                    unlink(statusFile.path)
                    states[s.name] = .running
                    let job = StageJob(key: spec.key, stage: s.name, baseName: s.baseName, kind: s.kind, statusFile: statusFile,
                                       executorLog: folder.appendingPathComponent("logs/\(file).exec.log"), force: isForced)
                    inFlight[s.name] = (s, reasons, job)
                    events(.stageStarted(stage: s.name, key: spec.key, reason: reasons.joined(separator: "; ")))
                    batch.append(job)
                }
            }
            return batch
        }

        func finish(_ base: StageRunRecord, _ s: ResolvedStage, _ a: ActionRecord, status: StageStatus, reason: String) -> StageRunRecord {
            var rec = base
            rec.status = status
            rec.reason = reason
            rec.outputs = a.outputs
            rec.metrics = a.metrics
            rec.wallSeconds = a.wallSeconds
            rec.peakMemoryBytes = a.peakMemoryBytes
            if let log = a.log {
                let rel = "logs/\(PipelineRunner.fileName(s.name)).log"
                try? store.materialize(log, at: folder.appendingPathComponent(rel))
                rec.log = rel
            }
            rec.gates = PipelineRunner.gates(s, metrics: a.metrics)
            return rec
        }

        /// Reads a finished job's outcome from the store.
        func collect(_ job: StageJob) {
            guard let (s, reasons, _) = inFlight.removeValue(forKey: job.stage) else { return }
            var rec = PipelineRunner.stub(s, status: .failed, reason: "")
            rec.key = job.key
            rec.components = try? StageSpec(storedIn: store, key: job.key).components
            rec.runReasons = reasons
            rec.placement = job.readPlacement()
            let (status, published) = cache.outcome(of: job)
            if let published {
                let why = status.outcome == .cached ? "computed by another run while waiting" : reasons.joined(separator: "; ")
                stageRecords[s.name] = finish(rec, s, published, status: status.outcome == .cached ? .cached : .computed, reason: why)
                if status.outcome == .cached { events(.stageCached(stage: s.name, key: job.key)) }
                else { events(.stageFinished(stage: s.name, seconds: published.wallSeconds)) }
                states[s.name] = .done(published.outputs)
                return
            }
            rec.status = status.outcome == .interrupted ? .interrupted : .failed
            rec.reason = status.message
            rec.wallSeconds = status.wallSeconds
            if let log = status.log {
                let rel = "logs/\(PipelineRunner.fileName(s.name)).log"
                try? store.materialize(log, at: folder.appendingPathComponent(rel))
                rec.log = rel
            } else if let size = try? FileManager.default.attributesOfItem(atPath: job.executorLog.path)[.size] as? Int, size > 0 {
                rec.log = "logs/\(PipelineRunner.fileName(s.name)).exec.log"
            }
            events(.stageFailed(stage: s.name, message: status.message))
            stageRecords[s.name] = rec
            states[s.name] = .failed
            if !options.keepGoing { stopNew = true }
        }

        await withTaskGroup(of: Void.self) { group in
            func dispatch() {
                let batch = decide()
                guard !batch.isEmpty else { return }
                group.addTask { await executor.execute(batch, store: self.store, callbacks: callbacks) }
            }
            dispatch()
            if inFlight.isEmpty { finishedSink.finish() }
            for await job in finishedJobs {
                collect(job)
                dispatch()
                if inFlight.isEmpty { finishedSink.finish() }
            }
        }
        // Cancellation ends the loop above early; the executors have finished by now (the group waited
        // for them), so the outcomes of the stages they stopped are in the store.
        for (_, pending) in inFlight.sorted(by: { $0.key < $1.key }) { collect(pending.job) }

        let cancelled = Task.isCancelled || isCancelled
        for s in order where stageRecords[s.name] == nil {
            let reason = cancelled ? "run interrupted" : "not started after an earlier failure (use --keep-going to continue independent stages)"
            stageRecords[s.name] = PipelineRunner.stub(s, status: cancelled ? .interrupted : .skipped, reason: reason)
            events(.stageSkipped(stage: s.name, reason: reason))
        }
        record.stages = order.map { stageRecords[$0.name]! }
        let anyFailed = record.stages.contains { $0.status.isUnfinished }
        let aggregates = AggregateGates.verdicts(graph: graph, record: record, baseline: options.baseline)
        if !aggregates.isEmpty { record.aggregateGates = aggregates }
        let gatesFailed = record.verdicts.contains { !$0.passed }
        if cancelled { record.status = .interrupted; record.exitCode = RunExitCode.interrupted }
        else if anyFailed { record.status = .failed; record.exitCode = RunExitCode.stageFailed }
        else if gatesFailed { record.status = .gatesFailed; record.exitCode = RunExitCode.gateFailed }
        else { record.status = .succeeded; record.exitCode = RunExitCode.success }
        record.finishedAt = _now()
        try writeRecordFiles(record, graph: graph, folder: folder, junit: options.junit)
        events(.runFinished(id: id, status: record.status, exitCode: record.exitCode!))
        return record
    }

    func writeRecordFiles(_ record: RunRecord, graph: PipelineGraph, folder: URL, junit: URL?) throws {
        var lock: [String: JSONValue] = [:]
        for s in record.stages {
            lock[s.name] = .object([
                "key": s.key.map { .string($0) } ?? .null,
                "components": s.components ?? .null,
                "outputs": .object(s.outputs.mapValues(\.json)),
                "metrics": .object(s.metrics.mapValues { .number($0) }),
            ])
        }
        try store.writeAtomically(Data(JSONValue.object(["pipeline": .string(record.pipeline), "stages": .object(lock)]).prettyText.utf8),
                                  to: folder.appendingPathComponent("lock.json"), durable: false)
        let xml = Data(RunReports.junit(record).utf8)
        try store.writeAtomically(xml, to: folder.appendingPathComponent("junit.xml"), durable: false)
        if let junit { try store.writeAtomically(xml, to: junit, durable: false) }
        for base in Set(record.stages.filter { !$0.cell.isEmpty }.map(\.baseName)) {
            let (md, csv) = RunReports.sweepSummary(record, stage: base)
            try store.writeAtomically(Data(md.utf8), to: folder.appendingPathComponent("sweep-\(base).md"), durable: false)
            try store.writeAtomically(Data(csv.utf8), to: folder.appendingPathComponent("sweep-\(base).csv"), durable: false)
        }
        try store.writeAtomically(try _JSON.encode(record), to: folder.appendingPathComponent("run.json"), durable: false)
        OutputExport.linkOutputs(of: record, into: folder, store: store)
        let presentations = graph.stages.compactMap { s in (s.kind as? PresentsMetrics).map { (s.kind.name, $0.metricPresentation) } }
        try RunReportPage.write(record, store: store, folder: folder,
                                presentations: Dictionary(presentations, uniquingKeysWith: { first, _ in first }))
    }

    static func stub(_ s: ResolvedStage, status: StageStatus, reason: String) -> StageRunRecord {
        StageRunRecord(name: s.name, baseName: s.baseName, cell: s.cell, kind: s.kind.name, version: s.kind.version,
                       determinism: s.kind.determinism.label, status: status, reason: reason, key: nil, components: nil,
                       outputs: [:], metrics: [:], gates: [], wallSeconds: nil, peakMemoryBytes: nil, log: nil)
    }

    static func newRunID(_ pipeline: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return "\(f.string(from: Date()))-\(pipeline)-\(UUID().uuidString.prefix(6).lowercased())"
    }

    static func fileName(_ s: String) -> String { _safeFileName(s) }

    /// Gate verdicts of a stage for its metrics.
    public static func gates(_ s: ResolvedStage, metrics: [String: Double]) -> [GateVerdict] {
        s.expectations.filter(\.checksEachCell).map { g in
            guard let v = metrics[g.metric] else {
                return GateVerdict(stage: s.name, metric: g.metric, condition: g.condition, value: nil, passed: false,
                                   message: "metric '\(g.metric)' was not reported\(_suggestion(g.metric, among: Array(metrics.keys)))",
                                   reference: g.reference, source: g.source)
            }
            let f = g.failure(for: v)
            return GateVerdict(stage: s.name, metric: g.metric, condition: g.condition, value: v, passed: f == nil,
                               message: f ?? "", reference: g.reference, source: g.source)
        }
    }
}
