import Foundation

/// What `plan` says about one stage.
public struct PlanEntry: Sendable {
    /// Resolved stage name.
    public var stage: String
    /// Whether `run` would compute it.
    public var willRun: Bool
    /// Why (or "up to date").
    public var reasons: [String]
    /// The key, when all inputs are known now.
    public var key: String?
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

/// Explains what a run would do, without running anything.
public struct Planner {
    /// The store consulted for cached results and past runs.
    public let store: ArtifactStore
    /// The runner used to bind inputs.
    let runner: PipelineRunner

    /// Creates a planner over a store.
    public init(store: ArtifactStore) {
        self.store = store
        self.runner = PipelineRunner(store: store)
    }

    /// The plan for every selected stage, in execution order.
    public func plan(_ graph: PipelineGraph, stages: [String] = [], force: [String] = []) throws -> [PlanEntry] {
        let selected = stages.isEmpty ? Set(graph.stages.map(\.name)) : try graph.selection(stages)
        let forced = try graph.matching(force)
        var known: [String: [String: Artifact]] = [:]
        var entries: [PlanEntry] = []
        let history = store.runs()
        for s in graph.stages where selected.contains(s.name) {
            let pendingUpstream = s.dependencies.filter { known[$0] == nil }
            let last = store.lastStageRecord(pipeline: graph.definition.name, stage: s.name, history: history)?.stage.components.map { Planner.normalize($0, s.kind) }
            var reasons: [String] = []
            var key: String?
            if pendingUpstream.isEmpty {
                let spec = StageSpec(kind: s.kind, parameters: s.parameters, inputs: try runner.bindings(s, upstream: known), seed: s.seed)
                key = spec.key
                if !forced.contains(s.name), let hit = runner.cached(spec.key, stage: s.name, events: { _ in }) {
                    known[s.name] = hit.outputs
                    entries.append(PlanEntry(stage: s.name, willRun: false, reasons: ["up to date (\(spec.key.prefix(12)))"], key: key))
                    continue
                }
                // Recorded so that `masknet stage exec KEY` (or a batch job) can run the stage from the store alone.
                try? store.writeSpec(spec.key, spec.data)
                if forced.contains(s.name) { reasons.append("forced") }
                if let last {
                    let diffs = Planner.diff(last: last, now: spec.components).filter(\.changed)
                    reasons += Planner.describe(diffs)
                    if diffs.isEmpty && !forced.contains(s.name) { reasons.append("same key as the last run, but its result is not in the store (collected or damaged)") }
                } else if !forced.contains(s.name) {
                    reasons.append("new: never run in this pipeline")
                }
            } else {
                if forced.contains(s.name) { reasons.append("forced") }
                reasons.append("input changed: upstream \(pendingUpstream.map { "'\($0)'" }.joined(separator: ", ")) will run first (if it reproduces its outputs, this stage may still be a cache hit)")
                if let last, let lastParams = last.objectValue?["params"]?.objectValue {
                    let now = JSONValue.object(["params": .object(s.parameters.values), "version": .string(s.kind.version), "kind": .string(s.kind.name)])
                    var trimmed = last.objectValue!
                    trimmed = ["params": .object(lastParams), "version": trimmed["version"] ?? .null, "kind": trimmed["kind"] ?? .null]
                    reasons += Planner.describe(Planner.diff(last: .object(trimmed), now: now).filter(\.changed))
                } else if last == nil {
                    reasons.append("new: never run in this pipeline")
                }
            }
            entries.append(PlanEntry(stage: s.name, willRun: true, reasons: reasons, key: key))
        }
        return entries
    }

    /// Component-by-component comparison of a stage's key now against the last run.
    public func why(_ graph: PipelineGraph, stage: String) throws -> (lastRun: String?, rows: [KeyComponentDiff], now: PlanEntry) {
        guard let s = graph[stage] else {
            throw EngineError("no stage named '\(stage)'\(_suggestion(stage, among: graph.stages.map(\.name)))")
        }
        let entries = try plan(graph, stages: [stage])
        let entry = entries.first { $0.stage == stage }!
        let last = store.lastStageRecord(pipeline: graph.definition.name, stage: stage)
        // `plan` stores the spec of every stage whose key is known; otherwise upstream must run first.
        let now: JSONValue
        if let key = entry.key, let spec = try? store.spec(key) {
            now = spec
        } else {
            var o = StageSpec(kind: s.kind, parameters: s.parameters, inputs: [:], seed: s.seed).components.objectValue!
            o["inputs"] = .object(Dictionary(s.inputs.map { ($0.key, JSONValue.string("(pending: \($0.value.text) runs first)")) },
                                             uniquingKeysWith: { a, _ in a }))
            now = .object(o)
        }
        return (last?.run.id, Planner.diff(last: last?.stage.components.map { Planner.normalize($0, s.kind) } ?? .object([:]),
                                           now: Planner.normalize(now, s.kind)), entry)
    }

    /// Components with parameter values typed by the kind's schema (records read back from JSON lose `1.0` vs `1`).
    static func normalize(_ components: JSONValue, _ kind: any StageKind) -> JSONValue {
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
            default: break
            }
        }
        return out
    }
}
