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
    case runFinished(id: String, status: String, exitCode: Int32)
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
    /// Environment description for the run record (tool version, OS, CPU, BLAS…).
    public var environment: [String: String] = [:]
    /// What `no_worse_than: baseline` gates compare with (`--baseline RUN|FILE`).
    public var baseline: MetricsSnapshot?

    /// Default options.
    public init() {}
}

/// Resolves, schedules and records a pipeline run over a store.
public final class PipelineRunner: @unchecked Sendable {
    /// The store.
    public let store: ArtifactStore
    private let cond = NSCondition()
    private var cancelled = false
    private var contexts: [String: StageContext] = [:]

    /// Creates a runner over a store.
    public init(store: ArtifactStore) { self.store = store }

    /// Interrupts the run: running stages are cancelled, nothing new starts (safe from any thread).
    public func cancel() {
        cond.lock()
        cancelled = true
        let running = Array(contexts.values)
        cond.broadcast()
        cond.unlock()
        for c in running { c.cancel() }
    }

    var isCancelled: Bool { cond.lock(); defer { cond.unlock() }; return cancelled }

    private enum State { case waiting, running, done([String: Artifact]), failed, skipped }

    /// Runs the graph and returns the run record (also written to `runs/<id>/`).
    public func run(_ graph: PipelineGraph, options: RunOptions, events: @escaping @Sendable (RunEvent) -> Void) throws -> RunRecord {
        let selected = options.stages.isEmpty ? Set(graph.stages.map(\.name)) : try graph.selection(options.stages)
        let forced = try graph.matching(options.force)
        let order = graph.stages.filter { selected.contains($0.name) }
        let id = PipelineRunner.newRunID(graph.definition.name)
        let folder = store.runFolder(id)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("logs"), withIntermediateDirectories: true)
        // A shared lock on the store keeps `gc` from collecting objects this run is about to reference.
        let gcGuard = try StoreGuard.shared(store)
        defer { gcGuard.release() }

        var record = RunRecord(id: id, pipeline: graph.definition.name, file: graph.definition.file.relativePathForDisplay,
                               seed: String(graph.definition.seed), overrides: graph.definition.overrides, startedAt: _now(),
                               finishedAt: nil, status: "running", exitCode: nil, pid: getpid(), environment: options.environment,
                               stages: [])
        try store.writeAtomically(Data(graph.definition.sourceText.utf8), to: folder.appendingPathComponent("pipeline.yaml"), durable: false)
        try store.writeAtomically(try _JSON.encode(record), to: folder.appendingPathComponent("run.json"), durable: false)
        events(.runStarted(id: id, stages: order.count))

        // Scheduler state, guarded by `cond` (workers update it when they finish).
        final class Shared: @unchecked Sendable {
            var states: [String: State] = [:]
            var stageRecords: [String: StageRunRecord] = [:]
            var running = 0
            var stopNew = false
        }
        let shared = Shared()
        shared.states = Dictionary(order.map { ($0.name, State.waiting) }, uniquingKeysWith: { a, _ in a })
        let jobs = max(1, options.jobs)

        cond.lock()
        while true {
            if !cancelled && !shared.stopNew {
                for s in order where shared.running < jobs {
                    guard case .waiting = shared.states[s.name]! else { continue }
                    var ready = true
                    var blocked: String?
                    for d in s.dependencies {
                        switch shared.states[d] {
                        case .done?: continue
                        case .failed?, .skipped?: blocked = d
                        default: ready = false
                        }
                    }
                    if let b = blocked {
                        shared.states[s.name] = .skipped
                        shared.stageRecords[s.name] = PipelineRunner.stub(s, status: "skipped", reason: "upstream stage '\(b)' did not finish")
                        events(.stageSkipped(stage: s.name, reason: "upstream stage '\(b)' did not finish"))
                        continue
                    }
                    guard ready else { continue }
                    var upstream: [String: [String: Artifact]] = [:]
                    for d in s.dependencies { if case .done(let o)? = shared.states[d] { upstream[d] = o } }
                    shared.states[s.name] = .running
                    shared.running += 1
                    let stage = s
                    let inputs = upstream
                    let isForced = forced.contains(s.name)
                    let thread = Thread { [self] in
                        let r = self.process(stage, upstream: inputs, forced: isForced, runFolder: folder, events: events)
                        self.cond.lock()
                        shared.stageRecords[stage.name] = r.record
                        shared.states[stage.name] = r.outputs.map { State.done($0) } ?? .failed
                        if r.outputs == nil && !options.keepGoing { shared.stopNew = true }
                        shared.running -= 1
                        self.cond.broadcast()
                        self.cond.unlock()
                    }
                    thread.stackSize = 64 << 20  // ML kinds recurse over large graphs; give them room.
                    thread.start()
                }
            }
            if shared.running == 0 {
                let anyWaiting = order.contains { if case .waiting = shared.states[$0.name]! { return true }; return false }
                if !anyWaiting || cancelled || shared.stopNew { break }
                // Waiting stages whose dependencies will never be done are marked on the next pass.
                let progress = order.contains { s in
                    guard case .waiting = shared.states[s.name]! else { return false }
                    return s.dependencies.allSatisfy { if case .waiting? = shared.states[$0] { return false }; if case .running? = shared.states[$0] { return false }; return true }
                }
                if !progress { break }
                continue
            }
            cond.wait()
        }
        cond.unlock()

        for s in order where shared.stageRecords[s.name] == nil {
            let reason = cancelled ? "run interrupted" : "not started after an earlier failure (use --keep-going to continue independent stages)"
            shared.stageRecords[s.name] = PipelineRunner.stub(s, status: cancelled ? "interrupted" : "skipped", reason: reason)
            events(.stageSkipped(stage: s.name, reason: reason))
        }
        record.stages = order.map { shared.stageRecords[$0.name]! }
        let anyFailed = record.stages.contains { ["failed", "skipped", "interrupted"].contains($0.status) }
        let aggregates = AggregateGates.verdicts(graph: graph, record: record, baseline: options.baseline)
        if !aggregates.isEmpty { record.aggregateGates = aggregates }
        let gatesFailed = record.verdicts.contains { !$0.passed }
        if cancelled { record.status = "interrupted"; record.exitCode = RunExitCode.interrupted }
        else if anyFailed { record.status = "failed"; record.exitCode = RunExitCode.stageFailed }
        else if gatesFailed { record.status = "gates_failed"; record.exitCode = RunExitCode.gateFailed }
        else { record.status = "succeeded"; record.exitCode = RunExitCode.success }
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
        try RunReportPage.write(record, store: store, folder: folder)
    }

    static func stub(_ s: ResolvedStage, status: String, reason: String) -> StageRunRecord {
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

    /// The input bindings of a stage given its upstream outputs; imports `file:` inputs into the store.
    public func bindings(_ s: ResolvedStage, upstream: [String: [String: Artifact]]) throws -> [String: InputBinding] {
        var out: [String: InputBinding] = [:]
        for (slot, input) in s.inputs {
            switch input {
            case .output(let st, let o):
                guard let a = upstream[st]?[o] else { throw EngineError("stage '\(st)' has no output '\(o)'") }
                out[slot] = .artifact(a)
            case .stage(let st):
                out[slot] = .bundle(upstream[st] ?? [:])
            case .file(let p):
                let url = URL(fileURLWithPath: p)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw EngineError("input '\(slot)' of stage '\(s.name)': file:\(p) does not exist (paths are relative to \(FileManager.default.currentDirectoryPath))")
                }
                out[slot] = .artifact(try store.store(itemAt: url, move: false))
            }
        }
        return out
    }

    /// Checks the store for a key; a damaged entry is reported, removed and treated as absent.
    func cached(_ key: String, stage: String, events: (RunEvent) -> Void) -> ActionRecord? {
        guard let record = store.actionRecord(key) else {
            if FileManager.default.fileExists(atPath: store.actionURL(key).path) {
                events(.damaged(stage: stage, problem: "action record \(key.prefix(12)) is unreadable"))
                store.removeActionRecord(key)
            }
            return nil
        }
        for (name, a) in record.outputs.sorted(by: { $0.key < $1.key }) {
            if let problem = store.verify(a) {
                events(.damaged(stage: stage, problem: "output '\(name)': \(problem); recomputing"))
                store.removeActionRecord(key)
                if problem.contains("corrupt") { store.discardObject(a.digest) }
                return nil
            }
        }
        return record
    }

    func process(_ s: ResolvedStage, upstream: [String: [String: Artifact]], forced: Bool, runFolder: URL,
                 events: @escaping @Sendable (RunEvent) -> Void) -> (record: StageRunRecord, outputs: [String: Artifact]?) {
        var rec = PipelineRunner.stub(s, status: "failed", reason: "")
        let spec: StageSpec
        do {
            spec = StageSpec(kind: s.kind, parameters: s.parameters, inputs: try bindings(s, upstream: upstream), seed: s.seed)
        } catch {
            rec.reason = "\(error)"
            events(.stageFailed(stage: s.name, message: "\(error)"))
            return (rec, nil)
        }
        rec.key = spec.key
        rec.components = spec.components
        func finish(_ a: ActionRecord, status: String, reason: String) -> (StageRunRecord, [String: Artifact]?) {
            rec.status = status
            rec.reason = reason
            rec.outputs = a.outputs
            rec.metrics = a.metrics
            rec.wallSeconds = a.wallSeconds
            rec.peakMemoryBytes = a.peakMemoryBytes
            if let log = a.log {
                let dest = runFolder.appendingPathComponent("logs/\(PipelineRunner.fileName(s.name)).log")
                try? store.materialize(log, at: dest)
                rec.log = "logs/\(PipelineRunner.fileName(s.name)).log"
            }
            rec.gates = PipelineRunner.gates(s, metrics: a.metrics)
            return (rec, a.outputs)
        }
        if !forced, let hit = cached(spec.key, stage: s.name, events: events) {
            events(.stageCached(stage: s.name, key: spec.key))
            return finish(hit, status: "cached", reason: "up to date")
        }
        let lockURL = store.dir("locks").appendingPathComponent("\(spec.key).lock")
        let lock: StageLock?
        do {
            lock = try StageLock.acquire(lockURL, cancelled: { self.isCancelled }, waiting: { holder in
                events(.waiting(stage: s.name, holder: holder))
            })
        } catch {
            rec.reason = "\(error)"
            events(.stageFailed(stage: s.name, message: "\(error)"))
            return (rec, nil)
        }
        guard let lock else {
            rec.status = "interrupted"; rec.reason = "run interrupted"
            return (rec, nil)
        }
        defer { lock.release() }
        // Another process may have computed the key while we waited.
        if !forced, let hit = cached(spec.key, stage: s.name, events: events) {
            events(.stageCached(stage: s.name, key: spec.key))
            return finish(hit, status: "cached", reason: "computed by another run while waiting")
        }
        do { try store.writeSpec(spec.key, spec.data) } catch {
            rec.reason = "\(error)"; events(.stageFailed(stage: s.name, message: "\(error)")); return (rec, nil)
        }
        let reason = forced ? "forced" : "not in the store"
        events(.stageStarted(stage: s.name, key: spec.key, reason: reason))
        let name = s.name
        let outcome = StageExecutor.execute(spec: spec, kind: s.kind, stageName: s.name, store: store, context: { ctx in
            self.cond.lock()
            self.contexts[name] = ctx
            let c = self.cancelled
            self.cond.unlock()
            if c { ctx.cancel() }
        }, progress: { p in events(.progress(stage: name, p)) })
        cond.lock(); contexts[name] = nil; cond.unlock()
        switch outcome {
        case .success(let a):
            events(.stageFinished(stage: s.name, seconds: a.wallSeconds))
            return finish(a, status: "computed", reason: reason)
        case .failure(let message, let log, let wall, let wasCancelled):
            rec.status = wasCancelled ? "interrupted" : "failed"
            rec.reason = message
            rec.wallSeconds = wall
            if let log {
                let rel = "logs/\(PipelineRunner.fileName(s.name)).log"
                try? store.writeAtomically(log, to: runFolder.appendingPathComponent(rel), durable: false)
                rec.log = rel
            }
            events(.stageFailed(stage: s.name, message: message))
            return (rec, nil)
        }
    }

    static func fileName(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || "_-.=,".contains($0) ? $0 : "_" })
    }

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

/// The store-wide guard between runs (shared) and `gc` (exclusive), held with `flock`.
public final class StoreGuard {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Shared hold for a run (many runs at once).
    public static func shared(_ store: ArtifactStore) throws -> StoreGuard {
        let fd = open(store.dir("locks").appendingPathComponent("store.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError("cannot open the store lock in \(store.root.path)/locks") }
        while flock(fd, LOCK_SH) != 0 && errno == EINTR {}
        return StoreGuard(fd: fd)
    }

    /// Exclusive hold for `gc`; nil if a run is in progress.
    public static func exclusive(_ store: ArtifactStore) throws -> StoreGuard? {
        let fd = open(store.dir("locks").appendingPathComponent("store.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError("cannot open the store lock in \(store.root.path)/locks") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { close(fd); return nil }
        return StoreGuard(fd: fd)
    }

    /// Releases the hold.
    public func release() {
        if fd >= 0 { flock(fd, LOCK_UN); close(fd); fd = -1 }
    }

    deinit { release() }
}
