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
    /// The key components, when all inputs are known now.
    public var components: JSONValue?
}

/// Explains what a run would do, without running anything and without writing to the store (only the
/// state table of file digests may learn a hash; with `recordSpecs`, specs and `file:` inputs are
/// stored so that `masknet stage exec KEY` can run the planned stages elsewhere).
public struct Planner {
    /// The store consulted for cached results and past runs.
    public let store: ArtifactStore
    let cache: StageCache

    /// Creates a planner over a store.
    public init(store: ArtifactStore) {
        self.store = store
        self.cache = StageCache(store: store)
    }

    /// The plan for every selected stage, in execution order.
    public func plan(_ graph: PipelineGraph, stages: [String] = [], force: [String] = [], recordSpecs: Bool = false) throws -> [PlanEntry] {
        let selected = stages.isEmpty ? Set(graph.stages.map(\.name)) : try graph.selection(stages)
        let forced = try graph.matching(force)
        var known: [String: [String: Artifact]] = [:]
        var entries: [PlanEntry] = []
        let history = RunHistory(store: store)
        for s in graph.stages where selected.contains(s.name) {
            let pendingUpstream = s.dependencies.filter { known[$0] == nil }
            var last: StageCache.LastRun? { cache.lastRun(s, pipeline: graph.definition.name, history: history) }
            guard pendingUpstream.isEmpty else {
                entries.append(PlanEntry(stage: s.name, willRun: true,
                                         reasons: StageCache.reasons(s, now: nil, last: last, pendingUpstream: pendingUpstream,
                                                                     forced: forced.contains(s.name), damage: nil),
                                         key: nil, components: nil))
                continue
            }
            let spec = try cache.spec(s, upstream: known, files: recordSpecs ? .importing : .describing)
            var damage: String?
            if !forced.contains(s.name) {
                switch cache.lookup(spec.key, repair: false) {
                case .hit(let hit):
                    known[s.name] = hit.outputs
                    entries.append(PlanEntry(stage: s.name, willRun: false, reasons: ["up to date (\(spec.key.prefix(12)))"],
                                             key: spec.key, components: spec.components))
                    continue
                case .damaged(let problem): damage = problem
                case .miss: break
                }
            }
            if recordSpecs { try store.writeSpec(spec.key, spec.data) }
            entries.append(PlanEntry(stage: s.name, willRun: true,
                                     reasons: StageCache.reasons(s, now: spec, last: last, pendingUpstream: [],
                                                                 forced: forced.contains(s.name), damage: damage),
                                     key: spec.key, components: spec.components))
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
        let now: JSONValue
        if let components = entry.components {
            now = components
        } else {
            var o = StageSpec(kind: s.kind, parameters: s.parameters, inputs: [:], seed: s.seed).components.objectValue!
            o["inputs"] = .object(Dictionary(s.inputs.map { ($0.key, JSONValue.string("(pending: \($0.value.text) runs first)")) },
                                             uniquingKeysWith: { a, _ in a }))
            now = .object(o)
        }
        return (last?.run.id, StageCache.diff(last: last?.stage.components.map { StageCache.normalize($0, s.kind) } ?? .object([:]),
                                              now: StageCache.normalize(now, s.kind)), entry)
    }

    /// The stages of a pipeline whose current result is in the store, as run records (for `export
    /// --pipeline`); a stage that would run has no outputs and says why in `reason`.
    public func storedStages(_ graph: PipelineGraph) throws -> [StageRunRecord] {
        let plan = Dictionary(uniqueKeysWithValues: try plan(graph).map { ($0.stage, $0) })
        return graph.stages.map { s in
            let entry = plan[s.name]
            let hit: ActionRecord? = entry.flatMap { e in
                guard !e.willRun, let key = e.key, case .hit(let r) = cache.lookup(key, repair: false) else { return nil }
                return r
            }
            return StageRunRecord(name: s.name, baseName: s.baseName, cell: s.cell, kind: s.kind.name, version: s.kind.version,
                                  determinism: s.kind.determinism.label, status: hit == nil ? .skipped : .cached,
                                  reason: hit == nil ? "not in the store: \(entry?.reasons.joined(separator: "; ") ?? "not planned"); run the pipeline first" : "up to date",
                                  key: entry?.key, components: entry?.components, outputs: hit?.outputs ?? [:], metrics: hit?.metrics ?? [:],
                                  gates: [], wallSeconds: hit?.wallSeconds, peakMemoryBytes: hit?.peakMemoryBytes, log: nil)
        }
    }
}
