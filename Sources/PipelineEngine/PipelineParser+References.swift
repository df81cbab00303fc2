import Foundation
import Yams

/// Inputs and references: `stage.output`, `stage`, `file:path`, and cycles between stages.
extension _ParseState {
    /// A stage's `inputs:`, each slot bound to a checked reference; reports missing required slots.
    mutating func inputs(_ input: StageParseInput) -> [String: InputReference] {
        let kind = input.kind, path = input.path
        var inputs: [String: InputReference] = [:]
        let slotNames = kind.inputSlots.map(\.name)
        if let i = input.fields["inputs"] {
            if case .mapping(let m) = i.value {
                for item in entries(m, "\(path).inputs") {
                    let ipath = "\(path).inputs.\(item.key)"
                    if !slotNames.contains(item.key) {
                        if !kind.acceptsAdditionalInputs {
                            error(item.keyNode, ipath, "kind '\(kind.name)' has no input '\(item.key)'\(_suggestion(item.key, among: slotNames))"); continue
                        }
                        if item.key.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil {
                            error(item.keyNode, ipath, "input name '\(item.key)' must be an identifier (letters, digits, '_')"); continue
                        }
                    }
                    guard let text = scalarString(item.value, ipath) else { continue }
                    if let r = reference(text, item.value, ipath, from: input.name, outline: input.outline) {
                        inputs[item.key] = r
                    }
                }
            } else {
                error(i.value, "\(path).inputs", "expected a mapping of input names to references (stage.output, stage, or file:path), found \(describe(i.value))")
            }
        }
        for slot in kind.inputSlots where !slot.isOptional && inputs[slot.name] == nil {
            error(input.fields["inputs"]?.value ?? input.node, "\(path).inputs.\(slot.name)",
                  "missing input '\(slot.name)' of kind '\(kind.name)': \(slot.description)")
        }
        return inputs
    }

    /// One reference checked against the workspace (`file:`) or the other stages and their outputs.
    mutating func reference(_ text: String, _ node: Node, _ path: String, from stage: String, outline: PipelineOutline) -> InputReference? {
        if text.hasPrefix("file:") {
            let p = String(text.dropFirst(5))
            if p.isEmpty { error(node, path, "'file:' needs a path, e.g. file:Tools/make-data.sh"); return nil }
            if !FileManager.default.fileExists(atPath: p) {
                error(node, path, "file:\(p) does not exist (paths are relative to the directory masknet runs in, \(FileManager.default.currentDirectoryPath))")
                return nil
            }
            return .file(p)
        }
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        let target = parts[0]
        let stageNames = outline.stageNames
        guard stageNames.contains(target) else {
            error(node, path, "unknown stage '\(target)' in reference '\(text)'\(_suggestion(target, among: stageNames.filter { $0 != stage }))")
            return nil
        }
        if target == stage { error(node, path, "stage '\(stage)' cannot consume its own output (cycle: \(stage) → \(stage))"); return nil }
        guard parts.count == 2 else { return .stage(target) }
        if let outs = outputs(of: target, outline: outline), !outs.contains(parts[1]) {
            error(node, path, "stage '\(target)' has no output '\(parts[1])'\(_suggestion(parts[1], among: outs))")
            return nil
        }
        return .output(stage: target, output: parts[1])
    }

    /// Outputs a stage would declare, with its file parameters (defaults where unparsable).
    func outputs(of stage: String, outline: PipelineOutline) -> [String]? {
        guard let kind = outline.kinds[stage] else { return nil }
        var values: [String: JSONValue] = [:]
        for p in kind.parameters { if let d = p.defaultValue { values[p.name] = d } }
        var scratch = _ParseState(fileName: fileName, registry: registry)
        if let paramsNode = outline.fields[stage]?.first(where: { $0.key == "params" })?.value, case .mapping(let m) = paramsNode {
            for item in scratch.entries(m, "") {
                if let spec = kind.parameters.first(where: { $0.name == item.key }),
                   let v = scratch.value(item.value, as: spec.type, spec: spec, "") { values[item.key] = v }
            }
        }
        return kind.outputNames(for: ParameterValues(values))
    }

    /// Reports each dependency cycle once, at the name of a stage on it.
    mutating func checkCycles(_ stages: [StageDefinition], outline: PipelineOutline) {
        let deps = Dictionary(stages.map { ($0.name, Set($0.inputs.values.compactMap(\.stageName))) }, uniquingKeysWith: { a, _ in a })
        var color: [String: Int] = [:]  // 0 white, 1 on stack, 2 done
        var stack: [String] = []
        var reported = Set<String>()
        func visit(_ s: String, _ state: inout _ParseState) {
            color[s] = 1; stack.append(s)
            for d in (deps[s] ?? []).sorted() {
                if color[d] == 1 {
                    let cycle = Array(stack[stack.firstIndex(of: d)!...]) + [d]
                    let key = Set(cycle).sorted().joined(separator: ",")
                    if !reported.contains(key), let item = outline.items.first(where: { $0.key == d }) {
                        reported.insert(key)
                        state.error(item.keyNode, "stages.\(d).inputs", "cycle: \(cycle.joined(separator: " → ")); a stage cannot depend on its own outputs")
                    }
                } else if color[d, default: 0] == 0 {
                    visit(d, &state)
                }
            }
            stack.removeLast(); color[s] = 2
        }
        for s in stages.map(\.name) where color[s, default: 0] == 0 { visit(s, &self) }
    }
}
