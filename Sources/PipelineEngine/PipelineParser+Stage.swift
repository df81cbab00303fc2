import Foundation
import Yams

/// Everything the parse of one stage needs besides the parse state.
struct StageParseInput {
    /// The stage name (its key under `stages:`).
    let name: String
    /// The stage's mapping node (for positions of whole-stage problems).
    let node: Node
    /// The stage's fields by key (`kind`, `params`, `matrix`, …).
    let fields: [String: _Entry]
    /// The stage's kind.
    let kind: any StageKind
    /// The pipeline-level `params:`.
    let shared: [String: _SharedEntry]
    /// The pipeline-level `matrix:` entries that name a declared parameter.
    let sharedMatrix: [String: _SharedEntry]
    /// The `--set` overrides of the whole parse.
    let overrides: CommandLineOverrides
    /// The other stages (for references).
    let outline: PipelineOutline

    init(name: String, node: Node, fields: [_Entry], kind: any StageKind, shared: [String: _SharedEntry],
         sharedMatrix: [String: _SharedEntry], overrides: CommandLineOverrides, outline: PipelineOutline) {
        self.name = name
        self.node = node
        self.fields = Dictionary(fields.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        self.kind = kind
        self.specs = Dictionary(kind.parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.shared = shared
        self.sharedMatrix = sharedMatrix
        self.overrides = overrides
        self.outline = outline
    }

    /// `stages.NAME`, the prefix of every key path in the stage.
    var path: String { "stages.\(name)" }
    /// The kind's parameters by name.
    let specs: [String: ParameterSpec]
    /// The kind's parameter names, for did-you-mean.
    var parameterNames: [String] { kind.parameters.map(\.name) }
    /// This stage's `--set NAME.key=value` overrides.
    var stageOverrides: [String: Node] { overrides.perStage[name] ?? [:] }

    /// `param.entry` where `param` is a map parameter: the spec and the entry's type.
    func tableEntry(_ key: String) -> (ParameterSpec, ParameterType)? {
        guard let dot = key.firstIndex(of: "."), let spec = specs[String(key[..<dot])],
              case .table(let element) = spec.type, key.index(after: dot) < key.endIndex else { return nil }
        return (spec, element)
    }
}

/// A stage's resolved parameters while it is being parsed.
struct StageParameters {
    /// Every parameter: default < shared `params:` < `--set` shared < stage `params:` < `--set stage.key`.
    var values: [String: JSONValue] = [:]
    /// The parameters that are not defaults.
    var explicit = Set<String>()
    /// The stage's own `params:` keys → key nodes (a parameter set there cannot also be swept).
    var stageKeys: [String: Node] = [:]
}

extension _ParseState {
    /// One stage: parameters, sweep, inputs, gates and seed, or nil when anything in it is wrong.
    mutating func stage(_ input: StageParseInput) -> StageDefinition? {
        let before = diagnostics.count
        var parameters = self.parameters(input)
        let sweep = matrix(input, &parameters)
        for spec in input.kind.parameters where parameters.values[spec.name] == nil && sweep.axes[spec.name] == nil {
            error(input.fields["params"]?.value ?? input.node, "\(input.path).params.\(spec.name)",
                  "missing required parameter '\(spec.name)' of kind '\(input.kind.name)': \(spec.description)")
        }
        let inputs = self.inputs(input)
        let expectations = self.expectations(input)
        let seedOverride = input.fields["seed"].flatMap { seedValue($0.value, "\(input.path).seed") }
        if let d = input.fields["description"] { _ = scalarString(d.value, "\(input.path).description") }
        var replicates = input.fields["replicates"].flatMap { replicateCount($0.value, "\(input.path).replicates") }
        if let node = input.stageOverrides[_ParseState.replicatesKey] {
            // `--set STAGE.replicates=N` replaces the file's count (or replicates a stage the file runs once).
            let origin = input.overrides.origin("\(input.name).\(_ParseState.replicatesKey)")
            var sub = _ParseState(fileName: "--set \(origin)", registry: registry)
            replicates = sub.replicateCount(node, "\(input.path).replicates")
            for d in sub.diagnostics { overrideError(origin, d.keyPath, d.message) }
        }
        if sweep.axes[PipelineGraph.seedAxis] != nil && input.specs[PipelineGraph.seedAxis] == nil {
            let mpath = "\(input.path).matrix.\(PipelineGraph.seedAxis)"
            if replicates != nil {
                error(input.fields["matrix"]?.value ?? input.node, mpath,
                      "a seed axis and replicates: both choose the stage's seeds; keep one (replicates: N derives N seeds, matrix: {seed: [...]} names them)")
            }
            if let s = input.fields["seed"] {
                error(s.keyNode, "\(input.path).seed", "the stage sweeps its seed under matrix:; remove seed: (each cell's seed is its axis value)")
            }
        }

        guard diagnostics.count == before else { return nil }
        return StageDefinition(name: input.name, kind: input.kind.name, parameters: parameters.values, explicitParameters: parameters.explicit,
                               inputs: inputs, matrix: sweep.axes, cells: sweep.cells, pipelineSwept: sweep.pipelineSwept,
                               expectations: expectations, seedOverride: seedOverride, replicates: replicates, location: loc(input.node))
    }

    /// `replicates: N`, a whole number from 1 to `maxReplicates`.
    mutating func replicateCount(_ node: Node, _ path: String) -> Int? {
        guard case .scalar(let s) = node, case .int(let n) = plain(s), n >= 1, n <= _ParseState.maxReplicates else {
            error(node, path, "replicates is a whole number of seeded runs from 1 to \(_ParseState.maxReplicates), found \(describe(node))"); return nil
        }
        return n
    }

    /// The most replicates a stage may ask for (each is a full run of the stage).
    static let maxReplicates = 1000

    /// The stage field `--set STAGE.replicates=N` overrides (not a parameter of any kind).
    static let replicatesKey = "replicates"

    /// Parameter values in order of precedence: defaults, shared `params:`, shared `--set`, the stage's
    /// `params:`, the stage's `--set`.
    mutating func parameters(_ input: StageParseInput) -> StageParameters {
        let specs = input.specs, path = input.path
        var p = StageParameters()
        for spec in input.kind.parameters { if let d = spec.defaultValue { p.values[spec.name] = d } }
        for (key, entry) in input.shared {
            if let spec = specs[key], let v = value(entry.node, as: spec.type, spec: spec, "params.\(key)") {
                p.values[key] = v; p.explicit.insert(key)
            }
        }
        for (key, node) in input.overrides.shared {
            if let spec = specs[key], let v = overrideValue(node, as: spec.type, spec: spec, origin: input.overrides.origin(key), spec.name) {
                p.values[key] = v; p.explicit.insert(key)
            }
        }
        if let field = input.fields["params"] {
            if case .mapping(let m) = field.value {
                for item in entries(m, "\(path).params") {
                    let ppath = "\(path).params.\(item.key)"
                    guard let spec = specs[item.key] else {
                        error(item.keyNode, ppath, "unknown parameter '\(item.key)' for kind '\(input.kind.name)'\(_suggestion(item.key, among: input.parameterNames))")
                        continue
                    }
                    p.stageKeys[item.key] = item.keyNode
                    if let v = value(item.value, as: spec.type, spec: spec, ppath) { p.values[item.key] = v; p.explicit.insert(item.key) }
                }
            } else {
                error(field.value, "\(path).params", "expected a mapping of parameter names to values, found \(describe(field.value))")
            }
        }
        for (key, node) in input.stageOverrides where key != _ParseState.replicatesKey {
            let origin = input.overrides.origin("\(input.name).\(key)")
            if let (spec, elementType) = input.tableEntry(key) {
                // `--set stage.env.NAME=value` sets one entry of a map parameter.
                if let v = overrideValue(node, as: elementType, spec: spec, origin: origin, key) {
                    var table = p.values[spec.name]?.objectValue ?? [:]
                    table[String(key.dropFirst(spec.name.count + 1))] = v
                    p.values[spec.name] = .object(table); p.explicit.insert(spec.name)
                }
                continue
            }
            guard let spec = specs[key] else {
                overrideError(origin, "\(path).params.\(key)", "unknown parameter '\(key)' for kind '\(input.kind.name)'\(_suggestion(key, among: input.parameterNames))")
                continue
            }
            if let v = overrideValue(node, as: spec.type, spec: spec, origin: origin, spec.name) {
                p.values[key] = v; p.explicit.insert(key)
            }
        }
        return p
    }
}
