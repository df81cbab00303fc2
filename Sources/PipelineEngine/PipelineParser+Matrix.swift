import Foundation
import Yams

/// A stage's sweep as parsed: its axes and, when `include:`/`exclude:` make it irregular, its own cells.
struct StageSweep {
    /// Swept parameter → values, every value any cell uses (included cells' values appended).
    var axes: [String: [JSONValue]] = [:]
    /// The stage's own cells when the sweep is not the full product of `axes`; nil otherwise.
    var cells: [[String: JSONValue]]?
    /// The axes that come from the pipeline-level `matrix:`.
    var pipelineSwept = Set<String>()
}

/// Sweeps: the pipeline-level `matrix:` and a stage's `matrix:` with `include:` and `exclude:`.
///
/// Every list of values to sweep goes through `sweepValues`; every cell mapping (an `include:` or
/// `exclude:` entry) through `cell`.
extension _ParseState {
    /// The keys of a stage's `matrix:` that are not parameters.
    static let matrixCellKeys = ["include", "exclude"]

    /// A non-empty list of distinct values of one type: the values one axis sweeps.
    mutating func sweepValues(_ node: Node, as type: ParameterType, spec: ParameterSpec, _ path: String) -> [JSONValue]? {
        guard case .sequence(let seq) = node, seq.count > 0 else {
            error(node, path, "expected a non-empty list of values to sweep, found \(describe(node))"); return nil
        }
        var values: [JSONValue] = []
        for (i, n) in seq.enumerated() {
            if let v = value(n, as: type, spec: spec, "\(path)[\(i)]") {
                if values.contains(v) { error(n, "\(path)[\(i)]", "value \(v.displayText) appears twice") } else { values.append(v) }
            }
        }
        return values
    }

    /// The pipeline-level `matrix:` entries whose key some stage's kind declares (values are typed per stage).
    mutating func pipelineMatrix(_ entry: _Entry?, declared: Set<String>) -> [String: _SharedEntry] {
        guard let m = entry else { return [:] }
        guard case .mapping(let mm) = m.value else {
            error(m.value, "matrix", "expected a mapping of parameter names to lists of values, found \(describe(m.value))"); return [:]
        }
        var result: [String: _SharedEntry] = [:]
        for item in entries(mm, "matrix") {
            if _ParseState.matrixCellKeys.contains(item.key) {
                error(item.keyNode, "matrix.\(item.key)", "'\(item.key):' belongs in a stage's matrix:, where the cells it names are that stage's; the pipeline-level matrix: is a full product")
            } else if item.key == PipelineGraph.seedAxis && !declared.contains(item.key) {
                error(item.keyNode, "matrix.seed", "a seed axis belongs in the matrix: of the stage whose seed it sweeps (stages.NAME.matrix.seed); downstream stages follow its cells")
            } else if !declared.contains(item.key) {
                error(item.keyNode, "matrix.\(item.key)", "'\(item.key)' is not a parameter of any stage's kind\(_suggestion(item.key, among: Array(declared)))")
            } else {
                result[item.key] = (item.value, item.keyNode)
            }
        }
        return result
    }

    /// A stage's sweep: its own `matrix:` (axes, `include:`, `exclude:`), then the pipeline-level axes it takes part in.
    mutating func matrix(_ input: StageParseInput, _ parameters: inout StageParameters) -> StageSweep {
        var sweep = StageSweep()
        if let m = input.fields["matrix"] {
            ownMatrix(m, input, &parameters, into: &sweep)
        }
        for (key, entry) in input.sharedMatrix.sorted(by: { $0.key < $1.key }) {
            guard let spec = input.specs[key], sweep.axes[key] == nil, parameters.stageKeys[key] == nil, input.stageOverrides[key] == nil else { continue }
            if let values = sweepValues(entry.node, as: spec.type, spec: spec, "matrix.\(key)") { sweep.axes[key] = values }
            sweep.pipelineSwept.insert(key)
            parameters.explicit.insert(key)
        }
        return sweep
    }

    /// The values a `seed` axis takes: seeds as `seed:` accepts them.
    static let seedAxisSpec = ParameterSpec(PipelineGraph.seedAxis, .integer, minimum: 0,
                                            description: "a stage seed, a non-negative integer")

    /// The type an axis takes: a parameter's, or an entry's of a map parameter (`env.BINS`); nil after reporting.
    mutating func axisType(_ key: String, _ keyNode: Node, _ path: String, _ input: StageParseInput,
                           _ parameters: StageParameters) -> (spec: ParameterSpec, type: ParameterType, isEntry: Bool)? {
        if let (spec, element) = input.tableEntry(key) { return (spec, element, true) }
        if key == PipelineGraph.seedAxis && input.specs[key] == nil {
            // `matrix: {seed: [1, 2, 3]}`: cells whose stage seed is the value, not a parameter of the kind.
            return (_ParseState.seedAxisSpec, .integer, true)
        }
        guard let spec = input.specs[key] else {
            error(keyNode, path, "unknown parameter '\(key)' for kind '\(input.kind.name)'\(_suggestion(key, among: input.parameterNames))")
            return nil
        }
        if parameters.stageKeys[key] != nil {
            error(keyNode, path, "'\(key)' is both set under params: and swept under matrix:; keep one")
        }
        return (spec, spec.type, false)
    }

    /// A stage's own `matrix:`: axes, then `exclude:` (drops product cells), then `include:` (adds cells).
    mutating func ownMatrix(_ m: _Entry, _ input: StageParseInput, _ parameters: inout StageParameters, into sweep: inout StageSweep) {
        let mpath = "\(input.path).matrix"
        let before = diagnostics.count
        guard case .mapping(let mm) = m.value else {
            error(m.value, mpath, "expected a mapping of parameter names to lists of values, found \(describe(m.value))"); return
        }
        var types: [String: (spec: ParameterSpec, type: ParameterType)] = [:]
        var include: _Entry?, exclude: _Entry?
        for item in entries(mm, mpath) {
            if item.key == "include" { include = item; continue }
            if item.key == "exclude" { exclude = item; continue }
            let path = "\(mpath).\(item.key)"
            guard let axis = axisType(item.key, item.keyNode, path, input, parameters) else { continue }
            types[item.key] = (axis.spec, axis.type)
            if let values = sweepValues(item.value, as: axis.type, spec: axis.spec, path) { sweep.axes[item.key] = values }
            if !axis.isEntry { parameters.explicit.insert(item.key) }
        }
        guard include != nil || exclude != nil else { return }

        if sweep.axes.isEmpty, let include, case .sequence(let seq) = include.value, let firstNode = seq.first, case .mapping(let first) = firstNode {
            // `matrix: {include: [...]}` alone: the first cell's keys are the axes, checked like axis names.
            for (k, _) in first {
                guard let key = k.scalar?.string, types[key] == nil,
                      let axis = axisType(key, k, "\(mpath).include[0].\(key)", input, parameters) else { continue }
                types[key] = (axis.spec, axis.type)
                if !axis.isEntry { parameters.explicit.insert(key) }
            }
        }
        // Cells of the product, in the order the graph expands them (axes by name, values as listed).
        var product: [[String: JSONValue]] = sweep.axes.isEmpty ? [] : [[:]]
        for k in sweep.axes.keys.sorted() {
            product = product.flatMap { partial in sweep.axes[k]!.map { v in partial.merging([k: v]) { a, _ in a } } }
        }
        let axisList = types.isEmpty ? "none" : types.keys.sorted().joined(separator: ", ")
        if let exclude {
            let full = product
            for (i, node, cell) in cells(exclude, types: types, axes: axisList, partial: true, mpath) {
                func matches(_ candidate: [String: JSONValue]) -> Bool { cell.allSatisfy { candidate[$0.key] == $0.value } }
                if !full.contains(where: matches) {
                    error(node, "\(mpath).exclude[\(i)]", "\(_cellText(cell)) matches no cell of the matrix (axes: \(axisList)); remove it or fix its values")
                } else if !product.contains(where: matches) {
                    error(node, "\(mpath).exclude[\(i)]", "\(_cellText(cell)) only matches cells an earlier exclude: entry already drops; remove it")
                }
                product.removeAll(where: matches)
            }
        }
        var included: [[String: JSONValue]] = []
        if let include {
            for (i, node, cell) in cells(include, types: types, axes: axisList, partial: false, mpath) {
                let ipath = "\(mpath).include[\(i)]"
                if product.contains(cell) {
                    error(node, ipath, "\(_cellText(cell)) is already a cell of the matrix; include: adds cells the axes do not produce")
                } else if included.contains(cell) {
                    error(node, ipath, "\(_cellText(cell)) is included twice")
                } else {
                    included.append(cell)
                    for (k, v) in cell where !(sweep.axes[k]?.contains(v) ?? false) { sweep.axes[k, default: []].append(v) }
                }
            }
        }
        if product.isEmpty && included.isEmpty && diagnostics.count == before {
            error(m.value, mpath, "the matrix has no cells left after exclude:; nothing would run")
        }
        sweep.cells = product + included
    }

    /// The cell mappings of an `include:` or `exclude:` list, typed by axis. A partial cell (exclude) may
    /// name some axes; a full one (include) names every axis.
    mutating func cells(_ entry: _Entry, types: [String: (spec: ParameterSpec, type: ParameterType)], axes: String,
                        partial: Bool, _ mpath: String) -> [(index: Int, node: Node, cell: [String: JSONValue])] {
        let path = "\(mpath).\(entry.key)"
        let example = partial ? "{truncation: 2}" : "{backbone: resnet50, truncation: 0}"
        guard case .sequence(let seq) = entry.value, seq.count > 0 else {
            error(entry.value, path, "expected a non-empty list of cells like \(example), found \(describe(entry.value))"); return []
        }
        var result: [(index: Int, node: Node, cell: [String: JSONValue])] = []
        for (i, node) in seq.enumerated() {
            let cpath = "\(path)[\(i)]"
            guard case .mapping(let m) = node, m.count > 0 else {
                error(node, cpath, "expected a cell like \(example), found \(describe(node))"); continue
            }
            var cell: [String: JSONValue] = [:]
            var ok = true
            for item in entries(m, cpath) {
                guard let t = types[item.key] else {
                    error(item.keyNode, _join(cpath, item.key), "'\(item.key)' is not an axis of this matrix (axes: \(axes))\(_closest(item.key, among: Array(types.keys)).map { "; did you mean '\($0)'?" } ?? "")")
                    ok = false; continue
                }
                if let v = value(item.value, as: t.type, spec: t.spec, _join(cpath, item.key)) { cell[item.key] = v } else { ok = false }
            }
            let missing = types.keys.filter { cell[$0] == nil }.sorted()
            if ok && !partial && !missing.isEmpty {
                error(node, cpath, "the cell gives no value for \(missing.map { "'\($0)'" }.joined(separator: ", ")); an included cell names every axis (\(axes))")
                ok = false
            }
            if ok { result.append((i, node, cell)) }
        }
        return result
    }
}

/// A cell as text in messages: `{backbone: resnet50, truncation: 0}`.
func _cellText(_ cell: [String: JSONValue]) -> String {
    "{" + cell.keys.sorted().map { "\($0): \(cell[$0]!.displayText)" }.joined(separator: ", ") + "}"
}
