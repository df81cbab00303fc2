import Foundation
import Crypto

/// What a resolved stage's input slot is bound to, after sweep expansion.
public enum ResolvedInput: Sendable, Hashable {
    /// One output of a resolved stage (cell names for sweeps).
    case output(stage: String, output: String)
    /// All outputs of a resolved stage, as a directory.
    case stage(String)
    /// A workspace file or directory, hashed by content.
    case file(String)

    /// The upstream stage, if any.
    public var stageName: String? {
        switch self {
        case .output(let s, _), .stage(let s): return s
        case .file: return nil
        }
    }
}

/// One stage ready for planning: sweep cells are separate stages with stable names.
public struct ResolvedStage: Sendable {
    /// Name, e.g. `train` or `train[lr=0.1,depth=3]` (cell coordinates sorted by name).
    public let name: String
    /// The stage name in the file.
    public let baseName: String
    /// The kind.
    public let kind: any StageKind
    /// Resolved parameters (cell values applied).
    public let parameters: ParameterValues
    /// Slot → binding.
    public let inputs: [String: ResolvedInput]
    /// Declared outputs.
    public let outputNames: [String]
    /// The derived seed (part of the key).
    public let seed: UInt64
    /// Gates.
    public let expectations: [Expectation]
    /// Sweep coordinates of this cell (own and inherited); empty outside sweeps.
    public let cell: [String: JSONValue]
    /// Upstream resolved stage names, sorted.
    public let dependencies: [String]
    /// Where it is written.
    public let location: SourceLocation
}

/// The DAG of a pipeline: resolved stages in a deterministic topological order.
public struct PipelineGraph: Sendable {
    /// The validated file.
    public let definition: PipelineDefinition
    /// Stages in topological order (ties broken by file order, then cell order).
    public let stages: [ResolvedStage]
    /// Index by name.
    public let index: [String: Int]

    /// Expands sweeps and orders stages. `registry` must be the one the definition was parsed with.
    public init(_ definition: PipelineDefinition, registry: KindRegistry) throws {
        self.definition = definition
        let defs = Dictionary(definition.stages.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let fileOrder = Dictionary(definition.stages.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Base-level topological order.
        var order: [String] = []
        var done = Set<String>()
        func visit(_ s: String) {
            if done.contains(s) { return }
            done.insert(s)
            for d in Set(defs[s]!.inputs.values.compactMap(\.stageName)).sorted(by: { fileOrder[$0]! < fileOrder[$1]! }) { visit(d) }
            order.append(s)
        }
        for s in definition.stages.map(\.name) { visit(s) }

        // Sweep dimensions: own matrix plus everything inherited from upstream stages.
        var dims: [String: [String: [JSONValue]]] = [:]
        var cells: [String: [[String: JSONValue]]] = [:]
        // Stages whose cells are not the full product of their dimensions (own or upstream include:/exclude:).
        var irregular: [String: Set<[String: JSONValue]>] = [:]
        var resolved: [ResolvedStage] = []
        var problems: [Diagnostic] = []
        for s in order {
            let def = defs[s]!
            var d: [String: [JSONValue]] = def.matrix
            if let n = def.replicates { d[PipelineGraph.replicateAxis] = (1...n).map { .integer($0) } }
            for up in Set(def.inputs.values.compactMap(\.stageName)) {
                for (k, v) in dims[up] ?? [:] {
                    if k == PipelineGraph.replicateAxis && def.replicates != nil {
                        problems.append(Diagnostic(location: def.location, keyPath: "stages.\(s).replicates",
                                                   message: "upstream stage '\(up)' is already replicated; this stage follows its replicates cell by cell, so remove replicates: here"))
                        continue
                    }
                    if let existing = d[k], existing != v || (def.matrix[k] != nil && !def.pipelineSwept.contains(k)) {
                        problems.append(Diagnostic(location: def.location, keyPath: "stages.\(s).matrix.\(k)",
                                                   message: "'\(k)' is already swept by upstream stage '\(up)'; sweep it in one place"))
                    }
                    d[k] = v
                }
            }
            dims[s] = d
            var product: [[String: JSONValue]] = [[:]]
            for k in d.keys.sorted() {
                product = product.flatMap { partial in d[k]!.map { v in partial.merging([k: v]) { a, _ in a } } }
            }
            // Irregular sweeps keep the product's order but only the cells the stage and its upstream stages have.
            let upstream = Set(def.inputs.values.compactMap(\.stageName)).sorted()
            if let own = def.cells {
                let ownKeys = Set(own.first?.keys.map { $0 } ?? [])
                let allowed = Set(own)
                product = product.filter { cell in allowed.contains(cell.filter { ownKeys.contains($0.key) }) }
            }
            for up in upstream {
                guard let allowed = irregular[up] else { continue }
                let keys = Set(dims[up]!.keys)
                product = product.filter { cell in allowed.contains(cell.filter { keys.contains($0.key) }) }
            }
            if def.cells != nil || upstream.contains(where: { irregular[$0] != nil }) { irregular[s] = Set(product) }
            cells[s] = product
            let kind = registry.kind(named: def.kind)!
            for cell in product {
                var params = def.parameters
                let ownSeedAxis = def.matrix[PipelineGraph.seedAxis] != nil && kind.parameters.allSatisfy { $0.name != PipelineGraph.seedAxis }
                for (k, v) in cell where def.matrix[k] != nil && !(ownSeedAxis && k == PipelineGraph.seedAxis) {
                    if params[k] == nil, let dot = k.firstIndex(of: "."), case .object(var table)? = params[String(k[..<dot])] {
                        table[String(k[k.index(after: dot)...])] = v   // a swept entry of a map parameter (`env.BINS`)
                        params[String(k[..<dot])] = .object(table)
                    } else {
                        params[k] = v
                    }
                }
                var inputs: [String: ResolvedInput] = [:]
                for (slot, ref) in def.inputs {
                    switch ref {
                    case .file(let p): inputs[slot] = .file(p)
                    case .output(let up, let o): inputs[slot] = .output(stage: PipelineGraph.cellName(up, cell.filter { dims[up]![$0.key] != nil }), output: o)
                    case .stage(let up): inputs[slot] = .stage(PipelineGraph.cellName(up, cell.filter { dims[up]![$0.key] != nil }))
                    }
                }
                let values = ParameterValues(params)
                let seed: UInt64
                let sweptSeed = cell[PipelineGraph.seedAxis]?.intValue.map { UInt64($0) }
                if ownSeedAxis, let sweptSeed {
                    seed = sweptSeed
                } else if let replicate = cell[PipelineGraph.replicateAxis]?.intValue {
                    seed = PipelineGraph.deriveSeed(sweptSeed ?? def.seedOverride ?? definition.seed, stage: s, replicate: replicate)
                } else if let sweptSeed, !kind.parameters.contains(where: { $0.name == PipelineGraph.seedAxis }) {
                    // Downstream of a seed axis: the cell's chain is seeded by that value, as `--set seed=N` would seed a run.
                    seed = def.seedOverride ?? PipelineGraph.deriveSeed(sweptSeed, stage: s)
                } else {
                    seed = def.seedOverride ?? PipelineGraph.deriveSeed(definition.seed, stage: s)
                }
                resolved.append(ResolvedStage(
                    name: PipelineGraph.cellName(s, cell), baseName: s, kind: kind, parameters: values, inputs: inputs,
                    outputNames: kind.outputNames(for: values), seed: seed, expectations: def.expectations, cell: cell,
                    dependencies: Set(inputs.values.compactMap(\.stageName)).sorted(), location: def.location))
            }
        }
        if !problems.isEmpty { throw PipelineValidationError(problems) }
        self.stages = resolved
        self.index = Dictionary(resolved.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The stage with the given resolved name.
    public subscript(_ name: String) -> ResolvedStage? { index[name].map { stages[$0] } }

    /// `base` or `base[k=v,…]` with keys sorted: stable names for sweep cells.
    public static func cellName(_ base: String, _ cell: [String: JSONValue]) -> String {
        if cell.isEmpty { return base }
        return base + "[" + cell.keys.sorted().map { "\($0)=\(cell[$0]!.displayText)" }.joined(separator: ",") + "]"
    }

    /// The seed of a stage: the first 8 bytes of SHA-256 over the pipeline seed and the stage's base name,
    /// so renaming another stage or adding sweep cells never changes it.
    public static func deriveSeed(_ pipelineSeed: UInt64, stage: String) -> UInt64 {
        let digest = SHA256.hash(data: Data("masknet-seed-v1\u{0}\(pipelineSeed)\u{0}\(stage)".utf8))
        return digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The sweep coordinate of `matrix: {seed: [...]}`: cells `stage[seed=7]` whose stage seed is the value;
    /// stages downstream follow cell by cell, seeded from it (`deriveSeed(value, stage:)`). Aggregate gates
    /// treat the cells as replicates, like `replicate`.
    public static let seedAxis = "seed"

    /// The sweep coordinate of `replicates: N`: cells `stage[replicate=1]` … `stage[replicate=N]`.
    public static let replicateAxis = "replicate"

    /// The seed of replicate `replicate` (1-based) of a stage, in a replicated stage and every stage that
    /// follows it cell by cell: the first 8 bytes of SHA-256 over the base seed (the stage's `seed:` if
    /// given, else the pipeline seed), the stage's base name and the replicate index. It depends on
    /// neither N nor the other replicates, so growing N keeps every existing cell's key (and cache entry).
    public static func deriveSeed(_ baseSeed: UInt64, stage: String, replicate: Int) -> UInt64 {
        let digest = SHA256.hash(data: Data("masknet-seed-v1\u{0}\(baseSeed)\u{0}\(stage)\u{0}replicate=\(replicate)".utf8))
        return digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The names selected by `--stage` (a base name selects all its cells) plus everything upstream.
    public func selection(_ requested: [String]) throws -> Set<String> {
        var roots: [String] = []
        for r in requested {
            if index[r] != nil { roots.append(r); continue }
            let cells = stages.filter { $0.baseName == r }.map(\.name)
            if cells.isEmpty {
                throw EngineError("no stage named '\(r)'\(_suggestion(r, among: Array(Set(stages.map(\.baseName)))))")
            }
            roots += cells
        }
        var selected = Set<String>()
        var stack = roots
        while let s = stack.popLast() {
            if selected.insert(s).inserted { stack += self[s]!.dependencies }
        }
        return selected
    }

    /// Resolved names matching `--force` arguments (base names match all cells).
    public func matching(_ names: [String]) throws -> Set<String> {
        var out = Set<String>()
        for r in names {
            if index[r] != nil { out.insert(r); continue }
            let cells = stages.filter { $0.baseName == r }.map(\.name)
            if cells.isEmpty { throw EngineError("no stage named '\(r)'\(_suggestion(r, among: Array(Set(stages.map(\.baseName)))))") }
            out.formUnion(cells)
        }
        return out
    }

    /// The graph as text, Mermaid or Graphviz dot.
    public func render(format: String) throws -> String {
        func id(_ s: String) -> String { "n\(index[s]!)" }
        switch format {
        case "text":
            return stages.map { s in
                s.dependencies.isEmpty ? "\(s.name) (\(s.kind.name))"
                    : "\(s.name) (\(s.kind.name)) ← " + s.inputs.keys.sorted().map { "\($0)=\(s.inputs[$0]!.text)" }.joined(separator: ", ")
            }.joined(separator: "\n") + "\n"
        case "mermaid":
            var lines = ["graph TD"]
            for s in stages { lines.append("  \(id(s.name))[\"\(s.name)<br/><i>\(s.kind.name)</i>\"]") }
            for s in stages { for d in s.dependencies { lines.append("  \(id(d)) --> \(id(s.name))") } }
            return lines.joined(separator: "\n") + "\n"
        case "dot":
            var lines = ["digraph \"\(definition.name)\" {", "  rankdir=TB;", "  node [shape=box];"]
            for s in stages { lines.append("  \(id(s.name)) [label=\"\(s.name.replacingOccurrences(of: "\"", with: "\\\""))\\n(\(s.kind.name))\"];") }
            for s in stages { for d in s.dependencies { lines.append("  \(id(d)) -> \(id(s.name));") } }
            lines.append("}")
            return lines.joined(separator: "\n") + "\n"
        default:
            throw EngineError("unknown format '\(format)'; use text, mermaid or dot")
        }
    }
}

extension ResolvedInput {
    /// The reference as written (`stage.output`, `stage`, `file:path`).
    public var text: String {
        switch self {
        case .output(let s, let o): return "\(s).\(o)"
        case .stage(let s): return s
        case .file(let p): return "file:\(p)"
        }
    }
}
