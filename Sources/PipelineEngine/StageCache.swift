import Foundation

/// Everything about one stage and the store, in one place: binding its inputs, building its spec and
/// key, the verified lookup, lock-and-recheck around execution, and the reason it must run.
///
/// The scheduler (`PipelineRunner`), `Planner` (`plan`, `why`), the executors and `masknet stage exec`
/// all go through it, so a stage is judged and executed the same way whoever asks.
public struct StageCache: Sendable {
    /// The store.
    public let store: ArtifactStore

    /// Creates a cache over a store.
    public init(store: ArtifactStore) { self.store = store }

    /// How `file:` inputs are bound.
    public enum FileInputs: Sendable {
        /// Copied into the object store (what `run` does before it executes anything).
        case importing
        /// Only hashed (through the state table): `plan` and `why` write nothing else.
        case describing
    }

    /// The outcome of a lookup.
    public enum Lookup: Sendable {
        /// A verified result: the record's objects exist and match their digests.
        case hit(ActionRecord)
        /// Never computed (or collected).
        case miss
        /// A record exists but is unusable: which record or object, and what is wrong with it.
        case damaged(String)
    }

    // MARK: keys

    /// The input bindings of a stage given its upstream stages' outputs.
    public func bindings(_ s: ResolvedStage, upstream: [String: [String: Artifact]], files: FileInputs) throws -> [String: InputBinding] {
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
                switch files {
                case .importing: out[slot] = .artifact(try store.store(itemAt: url, move: false))
                case .describing: out[slot] = .artifact(try store.describe(itemAt: url))
                }
            }
        }
        return out
    }

    /// The spec (and so the key) of a stage given its upstream stages' outputs.
    public func spec(_ s: ResolvedStage, upstream: [String: [String: Artifact]], files: FileInputs) throws -> StageSpec {
        StageSpec(kind: s.kind, parameters: s.parameters, inputs: try bindings(s, upstream: upstream, files: files), seed: s.seed)
    }

    // MARK: lookup

    /// Looks a key up and verifies every output object. With `repair`, a damaged entry is removed (and a
    /// corrupt object discarded) so it is recomputed; without, the store is left as it is (`plan`).
    public func lookup(_ key: String, repair: Bool) -> Lookup {
        guard let record = store.actionRecord(key) else {
            if FileManager.default.fileExists(atPath: store.actionURL(key).path) {
                if repair { store.removeActionRecord(key) }
                return .damaged("action record \(key.prefix(12)) is unreadable")
            }
            return .miss
        }
        for (name, a) in record.outputs.sorted(by: { $0.key < $1.key }) {
            if let problem = store.verify(a) {
                if repair {
                    store.removeActionRecord(key)
                    if problem.contains("corrupt") { store.discardObject(a.digest) }
                }
                return .damaged("output '\(name)': \(problem)")
            }
        }
        return .hit(record)
    }

    // MARK: reasons

    /// The stage in its pipeline's most recent recorded run: its key components, how it ended, which run.
    public struct LastRun: Sendable {
        /// Its key components, typed by the stage's kind.
        public var components: JSONValue
        /// How it ended there.
        public var status: StageStatus
        /// The run's id.
        public var run: String
    }

    /// The stage's most recent recorded run in this pipeline.
    public func lastRun(_ s: ResolvedStage, pipeline: String, history: RunHistory) -> LastRun? {
        guard let (run, stage) = store.lastStageRecord(pipeline: pipeline, stage: s.name, history: history.runs(of: pipeline)),
              let components = stage.components else { return nil }
        return LastRun(components: StageCache.normalize(components, s.kind), status: stage.status, run: run.id)
    }

    /// Why a stage must run. `now` is its spec when its inputs are known; otherwise `pendingUpstream`
    /// names the upstream stages that run first. `damage` is what `lookup` found wrong with its entry.
    public static func reasons(_ s: ResolvedStage, now: StageSpec?, last: LastRun?, pendingUpstream: [String],
                               forced: Bool, damage: String?) -> [String] {
        var reasons: [String] = []
        if forced { reasons.append("forced") }
        if let now {
            if let damage { reasons.append("damaged entry: \(damage)") }
            if let last {
                let diffs = diff(last: last.components, now: normalize(now.components, s.kind)).filter(\.changed)
                reasons += describe(diffs)
                if diffs.isEmpty && !forced && damage == nil {
                    if last.status == .interrupted || last.status == .failed {
                        // A training stage picks up the checkpoints the unfinished attempt left.
                        reasons.append("same key as run \(last.run), which did not finish it (\(last.status))")
                    } else {
                        reasons.append("same key as the last run, but its result is not in the store (collected or damaged)")
                    }
                }
            } else if !forced {
                reasons.append("new: never run in this pipeline")
            }
        } else {
            reasons.append("input changed: upstream \(pendingUpstream.map { "'\($0)'" }.joined(separator: ", ")) will run first (if it reproduces its outputs, this stage may still be a cache hit)")
            if let last = last?.components, let lastParams = last.objectValue?["params"]?.objectValue {
                let nowPart = JSONValue.object(["params": .object(s.parameters.values), "version": .string(s.kind.version), "kind": .string(s.kind.name)])
                let lastPart = JSONValue.object(["params": .object(lastParams), "version": last.objectValue?["version"] ?? .null,
                                                 "kind": last.objectValue?["kind"] ?? .null])
                reasons += describe(diff(last: normalize(lastPart, s.kind), now: normalize(nowPart, s.kind)).filter(\.changed))
            } else if last == nil {
                reasons.append("new: never run in this pipeline")
            }
        }
        return reasons
    }

    /// Components with parameter values typed by the kind's schema (records read back from JSON lose `1.0` vs `1`).
    public static func normalize(_ components: JSONValue, _ kind: any StageKind) -> JSONValue {
        guard var o = components.objectValue, let params = o["params"]?.objectValue else { return components }
        var typed = params
        for p in kind.parameters { if let v = params[p.name] { typed[p.name] = p.type.normalize(v) } }
        o["params"] = .object(typed)
        return .object(o)
    }

    /// Flattens two component objects and compares them leaf by leaf (`params.lr`, `inputs.data`…).
    public static func diff(last: JSONValue, now: JSONValue) -> [KeyComponentDiff] {
        func flatten(_ v: JSONValue, _ prefix: String, _ out: inout [String: String]) {
            if let o = v.objectValue, prefix.isEmpty || prefix == "params" || prefix == "inputs" {
                for (k, x) in o { flatten(x, prefix.isEmpty ? k : "\(prefix).\(k)", &out) }
                return
            }
            if prefix.hasPrefix("inputs."), let o = v.objectValue, let d = o["digest"]?.stringValue {
                out[prefix] = "\(o["type"]?.stringValue ?? "") \(d.prefix(16))"
                return
            }
            out[prefix] = v.displayText
        }
        var a: [String: String] = [:], b: [String: String] = [:]
        flatten(last, "", &a)
        flatten(now, "", &b)
        return Set(a.keys).union(b.keys).sorted().map { k in
            KeyComponentDiff(component: k, last: a[k], now: b[k], changed: a[k] != b[k])
        }
    }

    /// Human-readable reasons from changed components.
    public static func describe(_ diffs: [KeyComponentDiff]) -> [String] {
        var out: [String] = []
        let params = diffs.filter { $0.component.hasPrefix("params.") }
        if !params.isEmpty {
            out.append("params changed: " + params.map { "\($0.component.dropFirst(7)) (\($0.last ?? "unset") → \($0.now ?? "unset"))" }.joined(separator: ", "))
        }
        let inputs = diffs.filter { $0.component.hasPrefix("inputs.") }
        if !inputs.isEmpty { out.append("input changed: " + inputs.map { String($0.component.dropFirst(7)) }.joined(separator: ", ")) }
        for d in diffs {
            switch d.component {
            case "version": out.append("code version changed: \(d.last ?? "?") → \(d.now ?? "?")")
            case "kind": out.append("kind changed: \(d.last ?? "?") → \(d.now ?? "?")")
            case "seed": out.append("seed changed: \(d.last ?? "?") → \(d.now ?? "?")")
            case "format": out.append("store format changed: \(d.last ?? "?") → \(d.now ?? "?")")
            case "external": out.append("external state changed")
            default: break
            }
        }
        return out
    }

    // MARK: execution

    /// The kind that executes a stored spec; refuses a different kind version than the one planned.
    public static func kind(for spec: StageSpec, registry: KindRegistry) throws -> any StageKind {
        guard let kindName = spec.kindName, let kind = registry.kind(named: kindName) else {
            throw EngineError("stage \(spec.key.prefix(12)) needs kind '\(spec.kindName ?? "?")', which this masknet does not have")
        }
        try check(kind, against: spec)
        return kind
    }

    static func check(_ kind: any StageKind, against spec: StageSpec) throws {
        guard spec.kindName == kind.name, spec.kindVersion == kind.version else {
            throw EngineError("stage \(spec.key.prefix(12)) was planned with \(spec.kindName ?? "?") version \(spec.kindVersion ?? "?") but this masknet has \(kind.name) version \(kind.version); replan with this build")
        }
    }

    /// Executes the stored spec of `key` with the key's lock held, unless a verified result appears
    /// first (before locking, or published by another process while waiting for the lock), then writes
    /// `statusFile` (when given) and returns the same status.
    ///
    /// The one execution path of the in-process executor and `masknet stage exec`.
    public func execute(key: String, stageName: String, kind: any StageKind, statusFile: URL?, force: Bool = false,
                        cancelled: @escaping @Sendable () -> Bool = { false },
                        waiting: (String) -> Void = { _ in },
                        context contextHook: ((StageContext) -> Void)? = nil,
                        progress: @escaping @Sendable (StageProgress) -> Void = { _ in }) -> StageExecStatus {
        let status = _execute(key: key, stageName: stageName, kind: kind, force: force, cancelled: cancelled, waiting: waiting,
                              context: contextHook, progress: progress)
        if let statusFile {
            do { try status.write(to: statusFile, store: store) } catch {
                FileHandle.standardError.write(Data("\(stageName): cannot write the status file \(statusFile.path): \(error)\n".utf8))
            }
        }
        return status
    }

    private func _execute(key: String, stageName: String, kind: any StageKind, force: Bool, cancelled: @escaping @Sendable () -> Bool,
                          waiting: (String) -> Void, context contextHook: ((StageContext) -> Void)?,
                          progress: @escaping @Sendable (StageProgress) -> Void) -> StageExecStatus {
        func failed(_ message: String, _ outcome: StageExecStatus.Outcome = .failed, wall: Double? = nil, log: Data? = nil) -> StageExecStatus {
            let stored = log.flatMap { try? store.storeData($0) }
            return StageExecStatus(key: key, stage: stageName, outcome: outcome, message: message, wallSeconds: wall, log: stored)
        }
        let spec: StageSpec
        do {
            spec = try StageSpec(storedIn: store, key: key)
            try StageCache.check(kind, against: spec)
        } catch { return failed("\(error)") }
        if !force, case .hit = lookup(key, repair: true) {
            return StageExecStatus(key: key, stage: stageName, outcome: .cached, message: "already in the store")
        }
        let lock: StageLock?
        do {
            lock = try StageLock.acquire(store.dir("locks").appendingPathComponent("\(key).lock"), cancelled: cancelled, waiting: waiting)
        } catch { return failed("\(error)") }
        guard let lock else { return failed("interrupted while waiting for the lock of \(key.prefix(12))", .interrupted) }
        defer { lock.release() }
        // Another process may have computed the key while we waited.
        if !force, case .hit = lookup(key, repair: true) {
            return StageExecStatus(key: key, stage: stageName, outcome: .cached, message: "computed by another run while waiting")
        }
        for binding in spec.inputs.values {
            for a in binding.artifacts {
                if let p = store.verify(a) { return failed("an input of stage \(stageName) is not usable: \(p)") }
            }
        }
        switch StageExecutor.execute(spec: spec, kind: kind, stageName: stageName, store: store, context: contextHook, progress: progress) {
        case .success(let record):
            return StageExecStatus(key: key, stage: stageName, outcome: .computed, message: "published \(record.outputs.count) output(s)",
                                   wallSeconds: record.wallSeconds)
        case .failure(let message, let log, let wall, let wasCancelled):
            return failed(message, wasCancelled ? .interrupted : .failed, wall: wall, log: log)
        }
    }

    /// What the store says about a job that ended: its status file and, when published, its action record.
    public func outcome(of job: StageJob) -> (status: StageExecStatus, record: ActionRecord?) {
        let status: StageExecStatus
        do {
            guard let s = try StageExecStatus.read(job.statusFile) else {
                // No status: trust a published record, else the stage died without a word.
                if case .hit(let r) = lookup(job.key, repair: false) {
                    return (StageExecStatus(key: job.key, stage: job.stage, outcome: .computed, message: "published (no status file)"), r)
                }
                return (StageExecStatus(key: job.key, stage: job.stage, outcome: .failed,
                                        message: "the stage ended without a status file (\(job.statusFile.path)) or a published result"), nil)
            }
            status = s
        } catch {
            return (StageExecStatus(key: job.key, stage: job.stage, outcome: .failed, message: "\(error)"), nil)
        }
        guard status.isPublished else { return (status, nil) }
        guard let record = store.actionRecord(job.key) else {
            var s = status
            s.outcome = .failed
            s.message = "the status file says published, but the store has no action record for \(job.key.prefix(12))"
            return (s, nil)
        }
        return (status, record)
    }
}

/// The store's run records, read on first use and only for the pipeline asked about: only a stage that
/// must run needs them (for its reason), and decoding every earlier run record (a 1,001-cell sweep's is
/// megabytes) would dominate a cached run or a plan.
/// Unchecked Sendable: `_runs` is read and written only under `_lock`; `store` is a `let`.
public final class RunHistory: @unchecked Sendable {
    private let store: ArtifactStore
    private let _lock = NSLock()
    private var _runs: [String: [RunRecord]] = [:]

    /// The history of a store.
    public init(store: ArtifactStore) { self.store = store }

    /// The run records of one pipeline, newest first. Run ids are `<time>-<pipeline>-<random>`, so other
    /// pipelines' records are never decoded.
    public func runs(of pipeline: String) -> [RunRecord] {
        _lock.lock(); defer { _lock.unlock() }
        if let r = _runs[pipeline] { return r }
        let r = store.runs(matching: { $0.contains("-\(pipeline)-") }).filter { $0.pipeline == pipeline }
        _runs[pipeline] = r
        return r
    }
}

/// Runs one stage by key from the store alone (the body of `masknet stage exec`).
public enum StageRunner {
    /// Loads the spec of `key` and executes it unless a verified result exists; writes `statusFile`.
    public static func execute(key: String, name: String?, store: ArtifactStore, registry: KindRegistry, statusFile: URL? = nil,
                               force: Bool = false,
                               cancelled: @escaping @Sendable () -> Bool = { false },
                               context: ((StageContext) -> Void)? = nil,
                               progress: @escaping @Sendable (StageProgress) -> Void = { _ in }) throws -> ActionRecord {
        guard key.range(of: "^[0-9a-f]{8,64}$", options: .regularExpression) != nil else {
            throw EngineError("'\(key)' is not a stage key (8 to 64 lowercase hex digits); see `masknet plan` or a run's lock.json")
        }
        let key = try store.resolveKey(key)
        let spec = try StageSpec(storedIn: store, key: key)
        let kind = try StageCache.kind(for: spec, registry: registry)
        let guardLock = try StoreGuard.shared(store)
        defer { guardLock.release() }
        let cache = StageCache(store: store)
        let status = cache.execute(key: key, stageName: name ?? String(key.prefix(12)), kind: kind, statusFile: statusFile,
                                   force: force, cancelled: cancelled, context: context, progress: progress)
        guard status.isPublished, let record = store.actionRecord(key) else {
            throw EngineError("stage \(name ?? String(key.prefix(12))) failed: \(status.message)")
        }
        return record
    }
}

/// One row of `why`: a key component now and in the last run.
public struct KeyComponentDiff: Sendable {
    /// Component path (`params.lr`, `inputs.data`, `version`…).
    public var component: String
    /// Value in the last run (nil if absent).
    public var last: String?
    /// Value now (nil if unknown until upstream runs).
    public var now: String?
    /// Whether they differ.
    public var changed: Bool
}
