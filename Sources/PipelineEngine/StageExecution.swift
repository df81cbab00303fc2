import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of executing a stage.
public enum ExecutionOutcome: Sendable {
    /// Published.
    case success(ActionRecord)
    /// Failed or interrupted; nothing was cached. The log (if any) is at `log`.
    case failure(message: String, log: Data?, wallSeconds: Double, cancelled: Bool)
}

/// Runs one stage from its spec and publishes the result. The caller must hold the key's lock.
///
/// Reached only through `StageCache.execute`, which holds the lock and rechecks the store first; both the
/// in-process executor and `masknet stage exec` (one stage as its own process, e.g. a Slurm job) go
/// that way, so a stage needs nothing but the store to run.
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
        let seed = spec.seed
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
