import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The canonical description of one stage computation; its SHA-256 is the stage key.
///
/// Components: store-format version, kind, kind implementation version, resolved parameters, the
/// artifact (type, digest, size) bound to each input slot, and the derived seed (as a decimal string,
/// because it may exceed the JSON integer range). Key order and YAML layout never matter because the
/// canonical JSON sorts keys.
public struct StageSpec: Sendable {
    /// The canonical components.
    public let components: JSONValue
    /// The canonical bytes that are hashed and stored in `specs/`.
    public let data: Data
    /// SHA-256 hex of `data`.
    public let key: String

    /// Builds the spec of a stage with the given input artifacts.
    public init(kind: any StageKind, parameters: ParameterValues, inputs: [String: InputBinding], seed: UInt64) {
        var inputJSON: [String: JSONValue] = [:]
        for (slot, b) in inputs { inputJSON[slot] = b.json }
        var fields: [String: JSONValue] = [
            "format": .integer(ArtifactStore.formatVersion),
            "kind": .string(kind.name),
            "version": .string(kind.version),
            "params": .object(parameters.values),
            "inputs": .object(inputJSON),
            "seed": .string(String(seed)),
        ]
        if let external = kind.externalState(for: parameters) { fields["external"] = external }
        self.init(components: .object(fields))
    }

    /// Wraps a spec file read back from the store: the key is the hash of the stored bytes, which are
    /// exactly what was hashed when the key was made.
    public init(stored data: Data) throws {
        self.data = data
        self.key = ArtifactStore.hash(data)
        self.components = try _JSON.decode(JSONValue.self, from: data)
    }

    /// Wraps components built in memory.
    public init(components: JSONValue) {
        self.components = components
        self.data = components.canonicalData
        self.key = ArtifactStore.hash(data)
    }

    /// The input bindings recorded in the components.
    public var inputs: [String: InputBinding] {
        var out: [String: InputBinding] = [:]
        for (slot, v) in components.objectValue?["inputs"]?.objectValue ?? [:] {
            if let b = InputBinding(json: v) { out[slot] = b }
        }
        return out
    }
}

/// What an input slot receives: one artifact, or all outputs of a stage (a directory of named artifacts).
public enum InputBinding: Sendable, Hashable {
    /// One file or tree.
    case artifact(Artifact)
    /// Several named artifacts, materialized as a directory with one entry per name.
    case bundle([String: Artifact])

    var json: JSONValue {
        switch self {
        case .artifact(let a): return a.json
        case .bundle(let m): return .object(["type": "outputs", "outputs": .object(m.mapValues(\.json))])
        }
    }

    init?(json: JSONValue) {
        guard let o = json.objectValue, let type = o["type"]?.stringValue else { return nil }
        if type == "outputs" {
            var m: [String: Artifact] = [:]
            for (k, v) in o["outputs"]?.objectValue ?? [:] { if case .artifact(let a)? = InputBinding(json: v) { m[k] = a } }
            self = .bundle(m)
        } else {
            guard let d = o["digest"]?.stringValue else { return nil }
            self = .artifact(Artifact(type: type, digest: d, size: o["size"]?.intValue ?? 0))
        }
    }

    /// Every artifact involved.
    public var artifacts: [Artifact] {
        switch self {
        case .artifact(let a): return [a]
        case .bundle(let m): return m.keys.sorted().map { m[$0]! }
        }
    }
}

/// The outcome of executing a stage.
public enum ExecutionOutcome {
    /// Published.
    case success(ActionRecord)
    /// Failed or interrupted; nothing was cached. The log (if any) is at `log`.
    case failure(message: String, log: Data?, wallSeconds: Double, cancelled: Bool)
}

/// Runs one stage from its spec and publishes the result. The caller must hold the key's lock.
///
/// Both the in-process scheduler and `masknet stage exec` (one stage as its own process, e.g. a Slurm
/// job) use this, so a stage needs nothing but the store to run.
public enum StageExecutor {
    /// Executes `spec` with `kind` and publishes outputs then the action record.
    public static func execute(spec: StageSpec, kind: any StageKind, stageName: String, store: ArtifactStore,
                               context contextHook: ((StageContext) -> Void)? = nil,
                               progress: @escaping @Sendable (StageProgress) -> Void) -> ExecutionOutcome {
        let start = Date()
        store.removeScratch(forKey: spec.key)
        let scratch = store.dir("scratch").appendingPathComponent("\(spec.key).\(getpid()).\(UUID().uuidString.prefix(8))")
        defer { _removeTree(scratch) }
        let inDir = scratch.appendingPathComponent("in"), outDir = scratch.appendingPathComponent("out")
        let tmpDir = scratch.appendingPathComponent("tmp"), logURL = scratch.appendingPathComponent("log.txt")
        let checkpoints = store.dir("checkpoints").appendingPathComponent(spec.key)
        func fail(_ message: String, cancelled: Bool = false) -> ExecutionOutcome {
            .failure(message: message, log: FileManager.default.contents(atPath: logURL.path),
                     wallSeconds: Date().timeIntervalSince(start), cancelled: cancelled)
        }
        var paramValues: [String: JSONValue] = spec.components.objectValue?["params"]?.objectValue ?? [:]
        // Values read back from JSON may have lost the integer/real distinction; restore it from the schema.
        for p in kind.parameters { if let v = paramValues[p.name] { paramValues[p.name] = p.type.normalize(v) } }
        let parameters = ParameterValues(paramValues)
        let seed = UInt64(spec.components.objectValue?["seed"]?.stringValue ?? "0") ?? 0
        let outputNames = kind.outputNames(for: parameters)
        var inputs: [String: URL] = [:]
        do {
            for d in [inDir, outDir, tmpDir, checkpoints] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
            for (slot, binding) in spec.inputs {
                let url = inDir.appendingPathComponent(slot)
                switch binding {
                case .artifact(let a): try store.materialize(a, at: url)
                case .bundle(let m):
                    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
                    for (name, a) in m { try store.materialize(a, at: url.appendingPathComponent(name)) }
                }
                inputs[slot] = url
            }
        } catch {
            return fail("cannot prepare the stage's inputs: \(error)")
        }
        let context = StageContext(stageName: stageName, parameters: parameters, inputs: inputs, outputDirectory: outDir,
                                   temporaryDirectory: tmpDir, checkpointDirectory: checkpoints, seed: seed,
                                   outputNames: outputNames, logURL: logURL, progress: progress)
        contextHook?(context)
        let result: StageResult
        do {
            result = try kind.execute(context)
        } catch {
            context._closeLog()
            return fail(context.isCancelled ? "interrupted" : "\(error)", cancelled: context.isCancelled)
        }
        context._closeLog()
        if context.isCancelled { return fail("interrupted", cancelled: true) }
        let wall = Date().timeIntervalSince(start)
        // Verify before publishing: every declared output exists; metrics are finite.
        for name in outputNames where !FileManager.default.fileExists(atPath: outDir.appendingPathComponent(name).path) {
            return fail("stage did not create its declared output '\(name)' (expected at \(outDir.appendingPathComponent(name).path))")
        }
        for (k, v) in result.metrics where !v.isFinite { return fail("metric '\(k)' is \(v); metrics must be finite") }
        do {
            var outputs: [String: Artifact] = [:]
            for name in outputNames { outputs[name] = try store.store(itemAt: outDir.appendingPathComponent(name), move: true) }
            let log = FileManager.default.fileExists(atPath: logURL.path) ? try store.store(itemAt: logURL, move: false) : nil
            let selfPeak = _processPeakMemory()
            let child = context._notedPeakMemory
            let record = ActionRecord(
                key: spec.key, stage: stageName, kind: kind.name, version: kind.version, components: spec.components,
                outputs: outputs, metrics: result.metrics, determinism: kind.determinism.label, wallSeconds: wall,
                peakMemoryBytes: child > 0 ? child : selfPeak, log: log, createdAt: _now(),
                host: localHostName())
            try store.writeActionRecord(record)  // Objects are already in place: the record is the commit point.
            _removeTree(checkpoints)
            return .success(record)
        } catch {
            return fail("cannot publish outputs: \(error)")
        }
    }
}

/// Peak resident memory of this process in bytes.
func _processPeakMemory() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}

/// Runs one stage by key from the store alone (the body of `masknet stage exec`).
public enum StageRunner {
    /// Loads the spec of `key`, takes the key's lock, and executes it unless a verified result exists.
    public static func execute(key: String, name: String?, store: ArtifactStore, registry: KindRegistry,
                               progress: @escaping @Sendable (StageProgress) -> Void = { _ in }) throws -> ActionRecord {
        guard key.range(of: "^[0-9a-f]{8,64}$", options: .regularExpression) != nil else {
            throw EngineError("'\(key)' is not a stage key (8 to 64 lowercase hex digits); see `masknet plan` or a run's lock.json")
        }
        let key = try store.resolveKey(key)
        let spec = try store.storedSpec(key)
        guard spec.key == key else { throw EngineError("stage spec \(key) does not hash to its key; the store is damaged") }
        let o = spec.components.objectValue ?? [:]
        guard let kindName = o["kind"]?.stringValue, let kind = registry.kind(named: kindName) else {
            throw EngineError("stage \(key.prefix(12)) needs kind '\(o["kind"]?.displayText ?? "?")', which this masknet does not have")
        }
        guard o["version"]?.stringValue == kind.version else {
            throw EngineError("stage \(key.prefix(12)) was planned with \(kindName) version \(o["version"]?.displayText ?? "?") but this masknet has version \(kind.version); replan with this build")
        }
        let guardLock = try StoreGuard.shared(store)
        defer { guardLock.release() }
        let runner = PipelineRunner(store: store)
        if let hit = runner.cached(key, stage: name ?? key, events: { _ in }) { return hit }
        guard let lock = try StageLock.acquire(store.dir("locks").appendingPathComponent("\(key).lock"), cancelled: { false }, waiting: { _ in }) else {
            throw EngineError("could not lock \(key)")
        }
        defer { lock.release() }
        if let hit = runner.cached(key, stage: name ?? key, events: { _ in }) { return hit }
        for binding in spec.inputs.values {
            for a in binding.artifacts {
                if let p = store.verify(a) { throw EngineError("input of stage \(key.prefix(12)) is not usable: \(p)") }
            }
        }
        switch StageExecutor.execute(spec: spec, kind: kind, stageName: name ?? String(key.prefix(12)), store: store, progress: progress) {
        case .success(let r): return r
        case .failure(let message, _, _, _): throw EngineError("stage \(name ?? String(key.prefix(12))) failed: \(message)")
        }
    }
}
