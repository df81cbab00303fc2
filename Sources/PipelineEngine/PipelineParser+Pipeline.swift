import Foundation
import Yams

/// What the first pass over `stages:` learns, so that each stage can check references to the others.
struct PipelineOutline {
    /// The entries under `stages:` in file order (name, name node, stage mapping).
    var items: [_Entry] = []
    /// Stage names in file order.
    var stageNames: [String] { items.map(\.key) }
    /// Stage name → its kind (stages with an unknown kind are missing).
    var kinds: [String: any StageKind] = [:]
    /// Stage name → its fields (`kind`, `params`, …) as written.
    var fields: [String: [_Entry]] = [:]
}

/// A pipeline-level `params:` or `matrix:` entry: its value and, for positions, its key.
typealias _SharedEntry = (node: Node, keyNode: Node)

extension _ParseState {
    /// The top level: name, seed, overrides, shared parameters and sweep, then every stage.
    mutating func pipeline(_ top: Node.Mapping, overrides overrideStrings: [String], file: URL, text: String) -> PipelineDefinition? {
        let items = entries(top, "")
        checkKeys(items, allowed: PipelineParser.topLevelKeys, "", what: "top-level key")
        let byKey = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let topNode = Node.mapping(top)

        var name = ""
        if let n = byKey["pipeline"] {
            if let s = scalarString(n.value, "pipeline") {
                if s.range(of: "^[A-Za-z0-9][A-Za-z0-9_.-]*$", options: .regularExpression) == nil {
                    error(n.value, "pipeline", "pipeline name '\(s)' may only contain letters, digits, '_', '-', '.'")
                }
                name = s
            }
        } else {
            error(topNode, "pipeline", "missing 'pipeline: NAME' (run records are grouped by it)")
        }
        let description = byKey["description"].flatMap { scalarString($0.value, "description") }
        var seed: UInt64 = 0
        if let n = byKey["seed"] { seed = seedValue(n.value, "seed") ?? 0 }

        // Overrides are parsed first so they take part in validation like file values.
        let overrides = parseOverrides(overrideStrings)
        if let s = overrides.seed { seed = s }

        let outline = stageOutline(byKey["stages"], topNode)
        for stage in overrides.perStage.keys.sorted() where outline.fields[stage] == nil {
            let origin = overrides.origins.keys.sorted().first { $0.hasPrefix(stage + ".") }.map(overrides.origin) ?? stage
            overrideError(origin, stage, "no stage named '\(stage)'\(_suggestion(stage, among: Array(outline.fields.keys)))")
        }

        // Shared parameters: each must be declared by the kind of at least one stage.
        var shared: [String: _SharedEntry] = [:]
        if let p = byKey["params"] {
            if case .mapping(let m) = p.value {
                for item in entries(m, "params") { shared[item.key] = (item.value, item.keyNode) }
            } else {
                error(p.value, "params", "expected a mapping of shared parameter names to values, found \(describe(p.value))")
            }
        }
        let declared = Set(outline.kinds.values.flatMap { $0.parameters.map(\.name) })
        for (key, entry) in shared where !declared.contains(key) {
            error(entry.keyNode, "params.\(key)", "shared parameter '\(key)' is not a parameter of any stage's kind\(_suggestion(key, among: Array(declared)))")
        }
        for key in overrides.shared.keys where !declared.contains(key) {
            overrideError(overrides.origin(key), "params.\(key)", "'\(key)' is not a parameter of any stage's kind\(_suggestion(key, among: Array(declared)))")
        }
        let sharedMatrix = pipelineMatrix(byKey["matrix"], declared: declared)

        // Second pass: each stage in file order.
        var stages: [StageDefinition] = []
        for item in outline.items {
            guard let kind = outline.kinds[item.key], let fields = outline.fields[item.key] else { continue }
            let input = StageParseInput(name: item.key, node: item.value, fields: fields, kind: kind, shared: shared,
                                        sharedMatrix: sharedMatrix, overrides: overrides, outline: outline)
            if let s = stage(input) { stages.append(s) }
        }
        if diagnostics.isEmpty { checkCycles(stages, outline: outline) }
        return PipelineDefinition(name: name, description: description, seed: seed, file: file, sourceText: text,
                                  stages: stages, overrides: overrideStrings)
    }

    /// The first pass over `stages:`: names, kinds and fields, so that references can be checked.
    mutating func stageOutline(_ stagesEntry: _Entry?, _ topNode: Node) -> PipelineOutline {
        var outline = PipelineOutline()
        var stageItems: [_Entry] = []
        if let s = stagesEntry {
            if case .mapping(let m) = s.value {
                stageItems = entries(m, "stages")
                if stageItems.isEmpty { error(s.value, "stages", "a pipeline needs at least one stage") }
            } else {
                error(s.value, "stages", "expected a mapping of stage names to stages, found \(describe(s.value))")
            }
        } else {
            error(topNode, "stages", "missing 'stages:' (a mapping of stage names to stages)")
        }
        outline.items = stageItems
        for item in stageItems {
            let path = "stages.\(item.key)"
            if item.key.range(of: "^[A-Za-z_][A-Za-z0-9_-]*$", options: .regularExpression) == nil {
                error(item.keyNode, path, "stage name '\(item.key)' may only contain letters, digits, '_' and '-' (no dots: 'a.b' means output b of stage a)")
            }
            guard case .mapping(let m) = item.value else {
                error(item.value, path, "expected a mapping with 'kind:', found \(describe(item.value))"); continue
            }
            let fields = entries(m, path)
            checkKeys(fields, allowed: PipelineParser.stageKeys, path, what: "stage key")
            outline.fields[item.key] = fields
            guard let kindField = fields.first(where: { $0.key == "kind" }) else {
                error(item.value, "\(path).kind", "missing 'kind:' (registered kinds: \(registry.names.joined(separator: ", ")))"); continue
            }
            guard let kindName = scalarString(kindField.value, "\(path).kind") else { continue }
            guard let kind = registry.kind(named: kindName) else {
                error(kindField.value, "\(path).kind", "unknown stage kind '\(kindName)'\(_suggestion(kindName, among: registry.names))"); continue
            }
            outline.kinds[item.key] = kind
        }
        return outline
    }
}
