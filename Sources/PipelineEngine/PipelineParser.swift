import Foundation
import Yams

/// Reads and validates pipeline files against the registered kinds; nothing runs before this passes.
///
/// All problems are collected and thrown together as a `PipelineValidationError`, each with
/// `file:line:column` and the key path.
public struct PipelineParser {
    /// The kinds a pipeline may use.
    public let registry: KindRegistry

    /// Creates a parser for the given kinds.
    public init(registry: KindRegistry) { self.registry = registry }

    static let topLevelKeys = ["pipeline", "description", "seed", "params", "matrix", "stages"]
    static let stageKeys = ["kind", "description", "params", "inputs", "matrix", "expect", "seed", "resources", "retries"]  // resources/retries: read by executors (SlurmExecution), never part of a key
    static let gateKeys = ["min", "max", "target", "tolerance", "reference", "source"]

    /// Reads and validates a pipeline file. `overrides` are `--set key=value` strings.
    public func parse(file: URL, overrides: [String] = []) throws -> PipelineDefinition {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw EngineError("cannot read pipeline file \(file.path): \(error.localizedDescription)")
        }
        return try parse(text: text, file: file, overrides: overrides)
    }

    /// Validates pipeline text as if read from `file`.
    public func parse(text: String, file: URL, overrides: [String] = []) throws -> PipelineDefinition {
        var state = _ParseState(fileName: file.relativePathForDisplay, registry: registry)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PipelineValidationError([state.yamlDiagnostic(error, text: text)])
        }
        guard let root, case .mapping(let top) = root else {
            throw PipelineValidationError([Diagnostic(
                location: SourceLocation(file: state.fileName, line: 1, column: 1), keyPath: "",
                message: "a pipeline file is a mapping with 'pipeline:' and 'stages:'; see Pipelines/example-command.yaml")])
        }
        let definition = state.pipeline(top, overrides: overrides, file: file, text: text)
        if !state.diagnostics.isEmpty {
            throw PipelineValidationError(state.diagnostics.sorted {
                ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column)
            })
        }
        return definition!
    }
}

extension URL {
    /// The path relative to the current directory when it is inside it (for readable messages).
    var relativePathForDisplay: String {
        let cwd = FileManager.default.currentDirectoryPath
        let p = standardizedFileURL.path
        if p.hasPrefix(cwd + "/") { return String(p.dropFirst(cwd.count + 1)) }
        return p
    }
}

/// The mutable state of one parse: diagnostics and helpers that know the file name.
struct _ParseState {
    let fileName: String
    let registry: KindRegistry
    var diagnostics: [Diagnostic] = []

    init(fileName: String, registry: KindRegistry) {
        self.fileName = fileName
        self.registry = registry
    }

    func loc(_ node: Node) -> SourceLocation {
        SourceLocation(file: fileName, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    mutating func error(_ node: Node, _ path: String, _ message: String) {
        diagnostics.append(Diagnostic(location: loc(node), keyPath: path, message: message))
    }

    func yamlDiagnostic(_ error: YamlError, text: String) -> Diagnostic {
        var line = 1, column = 1
        var problem = "\(error)"
        switch error {
        case .scanner(let context, let p, let mark, _), .parser(let context, let p, let mark, _),
             .composer(let context, let p, let mark, _):
            line = mark.line; column = mark.column
            problem = p + (context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? "")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // libyaml reports the mapping; find the second occurrence of the key to point at it.
            line = context.mark.line; column = context.mark.column
            let key = duplicates.first ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let pattern = "^(\\s*(-\\s+)?|.*[{,]\\s*)[\"']?\(NSRegularExpression.escapedPattern(for: key))[\"']?\\s*:"
            var hits: [(Int, Int)] = []
            for i in max(0, context.mark.line - 1)..<lines.count {
                let l = String(lines[i])
                if let r = l.range(of: pattern, options: .regularExpression) {
                    let keyStart = l[r].range(of: key, options: .backwards)!.lowerBound
                    hits.append((i + 1, l.distance(from: l.startIndex, to: keyStart) + 1))
                }
                if hits.count == 2 { break }
            }
            if hits.count == 2 {
                line = hits[1].0; column = hits[1].1
                return Diagnostic(location: SourceLocation(file: fileName, line: line, column: column), keyPath: key,
                                  message: "duplicate key '\(key)' (first at line \(hits[0].0)); each name may appear once")
            }
            problem = "duplicate keys \(duplicates)"
        default: break
        }
        return Diagnostic(location: SourceLocation(file: fileName, line: line, column: column), keyPath: "",
                          message: "YAML syntax: \(problem)")
    }

    /// The entries of a mapping with string keys; reports non-string and duplicate keys.
    mutating func entries(_ mapping: Node.Mapping, _ path: String) -> [(key: String, keyNode: Node, value: Node)] {
        var seen: [String: Node] = [:]
        var result: [(String, Node, Node)] = []
        for (k, v) in mapping {
            guard case .scalar(let s) = k else {
                error(k, path, "keys must be plain names"); continue
            }
            if let first = seen[s.string] {
                error(k, _join(path, s.string), "duplicate key '\(s.string)' (first at line \(first.mark?.line ?? 0)); each name may appear once")
                continue
            }
            seen[s.string] = k
            result.append((s.string, k, v))
        }
        return result
    }

    /// Reports keys not in `allowed`, with a did-you-mean.
    mutating func checkKeys(_ items: [(key: String, keyNode: Node, value: Node)], allowed: [String], _ path: String, what: String) {
        for item in items where !allowed.contains(item.key) {
            error(item.keyNode, _join(path, item.key), "unknown \(what) '\(item.key)'\(_suggestion(item.key, among: allowed))")
        }
    }

    // MARK: scalars

    enum Plain { case null, bool(Bool), int(Int), real(Double), nonFinite, string(String) }

    /// YAML 1.2 core-schema interpretation of a scalar (quoted scalars are always strings).
    func plain(_ s: Node.Scalar) -> Plain {
        if s.style != .plain && s.style != .any { return .string(s.string) }
        let t = s.string
        switch t {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN": return .nonFinite
        default: break
        }
        if t.range(of: "^[-+]?[0-9]+$", options: .regularExpression) != nil, let i = Int(t) { return .int(i) }
        if t.range(of: "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", options: .regularExpression) != nil,
           let d = Double(t) { return d.isFinite ? .real(d) : .nonFinite }
        return .string(t)
    }

    /// A value of the given type from a node, or nil after reporting why not.
    mutating func value(_ node: Node, as type: ParameterType, spec: ParameterSpec?, _ path: String) -> JSONValue? {
        switch type {
        case .list(let element):
            guard case .sequence(let seq) = node else {
                error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
            }
            var items: [JSONValue] = []
            var ok = true
            for (i, n) in seq.enumerated() {
                if let v = value(n, as: element, spec: spec, "\(path)[\(i)]") { items.append(v) } else { ok = false }
            }
            return ok ? .array(items) : nil
        case .table(let element):
            guard case .mapping(let map) = node else {
                error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
            }
            var dict: [String: JSONValue] = [:]
            var ok = true
            for item in entries(map, path) {
                if let v = value(item.value, as: element, spec: spec, _join(path, item.key)) { dict[item.key] = v } else { ok = false }
            }
            return ok ? .object(dict) : nil
        default:
            break
        }
        guard case .scalar(let s) = node else {
            error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
        }
        let p = plain(s)
        if case .choice(let options) = type {
            switch p {
            case .string, .int, .real, .bool:
                let text: String
                if case .string(let t) = p { text = t } else { text = s.string }
                guard options.contains(text) else {
                    error(node, path, "'\(text)' is not \(type.phrase)\(_suggestion(text, among: options))"); return nil
                }
                return .string(text)
            default:
                error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
            }
        }
        let result: JSONValue?
        switch (type, p) {
        case (.integer, .int(let i)): result = .integer(i)
        case (.integer, .real(let d)) where d.rounded() == d && abs(d) < 9e15: result = .integer(Int(d))
        case (.number, .int(let i)): result = .number(Double(i))
        case (.number, .real(let d)): result = .number(d)
        case (.string, .string(let t)): result = .string(t)
        case (.string, .int), (.string, .real), (.string, .bool):
            // Strict, like the JSON Schema: a bare 3 or true where text is expected is usually a mistake.
            error(node, path, "expected a string, found \(describe(node)); quote it (\"\(s.string)\") if you mean the text"); return nil
        case (.boolean, .bool(let b)): result = .bool(b)
        case (.boolean, .string(let t)) where ["yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"].contains(t):
            error(node, path, "'\(t)' is not a boolean here (YAML 1.2); write true or false"); return nil
        case (_, .nonFinite):
            error(node, path, "'\(s.string)' is not a finite number"); return nil
        default:
            error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
        }
        if let spec, let x = result?.doubleValue {
            if let lo = spec.minimum, x < lo {
                error(node, path, "\(s.string) is below the minimum \(_fmt(lo)) of '\(spec.name)' (\(spec.description))"); return nil
            }
            if let hi = spec.maximum, x > hi {
                error(node, path, "\(s.string) is above the maximum \(_fmt(hi)) of '\(spec.name)' (\(spec.description))"); return nil
            }
        }
        return result
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            switch plain(s) {
            case .null: return "nothing (null)"
            case .bool(let b): return "the boolean \(b)"
            case .int(let i): return "the integer \(i)"
            case .real(let d): return "the number \(d)"
            case .nonFinite: return "'\(s.string)'"
            case .string(let t): return "the string '\(t)'"
            }
        }
    }

    mutating func scalarString(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let s) = node, case .string(let t) = plain(s) else {
            error(node, path, "expected a string, found \(describe(node))"); return nil
        }
        return t
    }

    mutating func scalarNumber(_ node: Node, _ path: String) -> Double? {
        guard case .scalar(let s) = node else { error(node, path, "expected a number, found \(describe(node))"); return nil }
        switch plain(s) {
        case .int(let i): return Double(i)
        case .real(let d): return d
        default: error(node, path, "expected a number, found \(describe(node))"); return nil
        }
    }

    mutating func seedValue(_ node: Node, _ path: String) -> UInt64? {
        guard case .scalar(let s) = node, case .int(let i) = plain(s), i >= 0 else {
            error(node, path, "a seed is a non-negative integer, found \(describe(node))"); return nil
        }
        return UInt64(i)
    }

    // MARK: the pipeline

    mutating func pipeline(_ top: Node.Mapping, overrides: [String], file: URL, text: String) -> PipelineDefinition? {
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

        // Overrides: parse them first so they take part in validation like file values.
        var sharedOverrides: [String: Node] = [:]
        var stageOverrides: [String: [String: Node]] = [:]
        var overrideOrigins: [String: String] = [:]
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                diagnostics.append(Diagnostic(location: SourceLocation(file: "--set \(o)", line: 0, column: 0), keyPath: o,
                                              message: "expected KEY=VALUE, e.g. --set train.epochs=3 or --set seed=7"))
                continue
            }
            let key = String(o[..<eq]), raw = String(o[o.index(after: eq)...])
            let node = (try? Yams.compose(yaml: raw)).flatMap { $0 } ?? Node.scalar(.init(raw, .implicit, .plain))
            // Override nodes carry no file position: locations print as `--set key=value`.
            let located = _stripMarks(node)
            overrideOrigins[key] = o
            if key == "seed" {
                if let v = seedValueOverride(located, o) { seed = v }
            } else if let dot = key.firstIndex(of: ".") {
                stageOverrides[String(key[..<dot]), default: [:]][String(key[key.index(after: dot)...])] = located
            } else {
                sharedOverrides[key] = located
            }
        }

        // Stages: first pass collects kinds and outputs so references can be checked.
        var stageItems: [(key: String, keyNode: Node, value: Node)] = []
        if let s = byKey["stages"] {
            if case .mapping(let m) = s.value {
                stageItems = entries(m, "stages")
                if stageItems.isEmpty { error(s.value, "stages", "a pipeline needs at least one stage") }
            } else {
                error(s.value, "stages", "expected a mapping of stage names to stages, found \(describe(s.value))")
            }
        } else {
            error(topNode, "stages", "missing 'stages:' (a mapping of stage names to stages)")
        }
        var kinds: [String: any StageKind] = [:]
        var stageMaps: [String: [(key: String, keyNode: Node, value: Node)]] = [:]
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
            stageMaps[item.key] = fields
            guard let kindField = fields.first(where: { $0.key == "kind" }) else {
                error(item.value, "\(path).kind", "missing 'kind:' (registered kinds: \(registry.names.joined(separator: ", ")))"); continue
            }
            guard let kindName = scalarString(kindField.value, "\(path).kind") else { continue }
            guard let kind = registry.kind(named: kindName) else {
                error(kindField.value, "\(path).kind", "unknown stage kind '\(kindName)'\(_suggestion(kindName, among: registry.names))"); continue
            }
            kinds[item.key] = kind
        }
        for (stage, _) in stageOverrides where stageMaps[stage] == nil {
            let origin = overrideOrigins.first { $0.key.hasPrefix(stage + ".") }?.value ?? stage
            diagnostics.append(Diagnostic(location: SourceLocation(file: "--set \(origin)", line: 0, column: 0), keyPath: stage,
                                          message: "no stage named '\(stage)'\(_suggestion(stage, among: Array(stageMaps.keys)))"))
        }

        // Shared parameters: each must be declared by the kind of at least one stage.
        var shared: [String: (node: Node, keyNode: Node)] = [:]
        if let p = byKey["params"] {
            if case .mapping(let m) = p.value {
                for item in entries(m, "params") { shared[item.key] = (item.value, item.keyNode) }
            } else {
                error(p.value, "params", "expected a mapping of shared parameter names to values, found \(describe(p.value))")
            }
        }
        let declared = Set(kinds.values.flatMap { $0.parameters.map(\.name) })
        for (key, entry) in shared where !declared.contains(key) {
            error(entry.keyNode, "params.\(key)", "shared parameter '\(key)' is not a parameter of any stage's kind\(_suggestion(key, among: Array(declared)))")
        }
        for (key, node) in sharedOverrides where !declared.contains(key) {
            diagnostics.append(Diagnostic(location: SourceLocation(file: "--set \(overrideOrigins[key] ?? key)", line: 0, column: 0),
                                          keyPath: "params.\(key)", message: "'\(key)' is not a parameter of any stage's kind\(_suggestion(key, among: Array(declared)))"))
            _ = node
        }

        // Pipeline-level sweep: applies to every stage whose kind has the parameter (unless the stage sets it).
        var sharedMatrix: [String: (node: Node, keyNode: Node)] = [:]
        if let m = byKey["matrix"] {
            if case .mapping(let mm) = m.value {
                for item in entries(mm, "matrix") {
                    if !declared.contains(item.key) {
                        error(item.keyNode, "matrix.\(item.key)", "'\(item.key)' is not a parameter of any stage's kind\(_suggestion(item.key, among: Array(declared)))")
                    } else {
                        sharedMatrix[item.key] = (item.value, item.keyNode)
                    }
                }
            } else {
                error(m.value, "matrix", "expected a mapping of parameter names to lists of values, found \(describe(m.value))")
            }
        }

        // Second pass: each stage in file order.
        var stages: [StageDefinition] = []
        let stageNames = stageItems.map(\.key)
        for item in stageItems {
            guard let kind = kinds[item.key], let fields = stageMaps[item.key] else { continue }
            if let s = stage(item.key, item.value, fields, kind: kind, shared: shared, sharedMatrix: sharedMatrix, sharedOverrides: sharedOverrides,
                             overrides: stageOverrides[item.key] ?? [:], overrideOrigins: overrideOrigins,
                             stageNames: stageNames, kinds: kinds, stageMaps: stageMaps) {
                stages.append(s)
            }
        }
        if diagnostics.isEmpty { checkCycles(stages, stageItems: stageItems) }
        return PipelineDefinition(name: name, description: description, seed: seed, file: file, sourceText: text,
                                  stages: stages, overrides: overrides)
    }

    mutating func seedValueOverride(_ node: Node, _ origin: String) -> UInt64? {
        guard case .scalar(let s) = node, case .int(let i) = plain(s), i >= 0 else {
            diagnostics.append(Diagnostic(location: SourceLocation(file: "--set \(origin)", line: 0, column: 0), keyPath: "seed",
                                          message: "a seed is a non-negative integer"))
            return nil
        }
        return UInt64(i)
    }

    /// Outputs a stage would declare, with its file parameters (defaults where unparsable).
    func outputs(of stage: String, kinds: [String: any StageKind], stageMaps: [String: [(key: String, keyNode: Node, value: Node)]]) -> [String]? {
        guard let kind = kinds[stage] else { return nil }
        var values: [String: JSONValue] = [:]
        for p in kind.parameters { if let d = p.defaultValue { values[p.name] = d } }
        var scratch = _ParseState(fileName: fileName, registry: registry)
        if let paramsNode = stageMaps[stage]?.first(where: { $0.key == "params" })?.value, case .mapping(let m) = paramsNode {
            for item in scratch.entries(m, "") {
                if let spec = kind.parameters.first(where: { $0.name == item.key }),
                   let v = scratch.value(item.value, as: spec.type, spec: spec, "") { values[item.key] = v }
            }
        }
        return kind.outputNames(for: ParameterValues(values))
    }

    mutating func stage(_ name: String, _ node: Node, _ fields: [(key: String, keyNode: Node, value: Node)], kind: any StageKind,
                        shared: [String: (node: Node, keyNode: Node)], sharedMatrix: [String: (node: Node, keyNode: Node)],
                        sharedOverrides: [String: Node],
                        overrides: [String: Node], overrideOrigins: [String: String],
                        stageNames: [String], kinds: [String: any StageKind],
                        stageMaps: [String: [(key: String, keyNode: Node, value: Node)]]) -> StageDefinition? {
        let path = "stages.\(name)"
        let before = diagnostics.count
        let field = Dictionary(fields.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let specs = Dictionary(kind.parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let paramNames = kind.parameters.map(\.name)

        var values: [String: JSONValue] = [:]
        var explicit = Set<String>()
        for p in kind.parameters { if let d = p.defaultValue { values[p.name] = d } }
        for (key, entry) in shared {
            if let spec = specs[key], let v = value(entry.node, as: spec.type, spec: spec, "params.\(key)") {
                values[key] = v; explicit.insert(key)
            }
        }
        for (key, n) in sharedOverrides {
            if let spec = specs[key] { overrideValue(n, spec: spec, origin: overrideOrigins[key] ?? key, into: &values, &explicit) }
        }
        var stageParamNodes: [String: Node] = [:]
        if let p = field["params"] {
            if case .mapping(let m) = p.value {
                for item in entries(m, "\(path).params") {
                    let ppath = "\(path).params.\(item.key)"
                    guard let spec = specs[item.key] else {
                        error(item.keyNode, ppath, "unknown parameter '\(item.key)' for kind '\(kind.name)'\(_suggestion(item.key, among: paramNames))")
                        continue
                    }
                    stageParamNodes[item.key] = item.keyNode
                    if let v = value(item.value, as: spec.type, spec: spec, ppath) { values[item.key] = v; explicit.insert(item.key) }
                }
            } else {
                error(p.value, "\(path).params", "expected a mapping of parameter names to values, found \(describe(p.value))")
            }
        }
        for (key, n) in overrides {
            if let (spec, elementType) = tableEntry(key, specs) {
                let origin = overrideOrigins["\(name).\(key)"] ?? key
                var sub = _ParseState(fileName: "--set \(origin)", registry: registry)
                let entry = String(key.dropFirst(spec.name.count + 1))
                if let v = sub.value(_textIfString(n, elementType), as: elementType, spec: spec, key) {
                    var table = values[spec.name]?.objectValue ?? [:]
                    table[entry] = v
                    values[spec.name] = .object(table); explicit.insert(spec.name)
                }
                for var d in sub.diagnostics { d.location = SourceLocation(file: "--set \(origin)", line: 0, column: 0); diagnostics.append(d) }
                continue
            }
            guard let spec = specs[key] else {
                diagnostics.append(Diagnostic(location: SourceLocation(file: "--set \(overrideOrigins["\(name).\(key)"] ?? key)", line: 0, column: 0),
                                              keyPath: "\(path).params.\(key)",
                                              message: "unknown parameter '\(key)' for kind '\(kind.name)'\(_suggestion(key, among: paramNames))"))
                continue
            }
            overrideValue(n, spec: spec, origin: overrideOrigins["\(name).\(key)"] ?? key, into: &values, &explicit)
        }

        // Sweep.
        var matrix: [String: [JSONValue]] = [:]
        if let m = field["matrix"] {
            if case .mapping(let mm) = m.value {
                for item in entries(mm, "\(path).matrix") {
                    let mpath = "\(path).matrix.\(item.key)"
                    if let (spec, elementType) = tableEntry(item.key, specs) {
                        // `env.BINS: [..]` sweeps one entry of a map parameter.
                        guard case .sequence(let seq) = item.value, seq.count > 0 else {
                            error(item.value, mpath, "expected a non-empty list of values to sweep, found \(describe(item.value))"); continue
                        }
                        var vs: [JSONValue] = []
                        for (i, n) in seq.enumerated() {
                            if let v = value(n, as: elementType, spec: spec, "\(mpath)[\(i)]") { vs.append(v) }
                        }
                        matrix[item.key] = vs
                        continue
                    }
                    guard let spec = specs[item.key] else {
                        error(item.keyNode, mpath, "unknown parameter '\(item.key)' for kind '\(kind.name)'\(_suggestion(item.key, among: paramNames))")
                        continue
                    }
                    if stageParamNodes[item.key] != nil {
                        error(item.keyNode, mpath, "'\(item.key)' is both set under params: and swept under matrix:; keep one")
                    }
                    guard case .sequence(let seq) = item.value, seq.count > 0 else {
                        error(item.value, mpath, "expected a non-empty list of values to sweep, found \(describe(item.value))"); continue
                    }
                    var vs: [JSONValue] = []
                    for (i, n) in seq.enumerated() {
                        if let v = value(n, as: spec.type, spec: spec, "\(mpath)[\(i)]") {
                            if vs.contains(v) { error(n, "\(mpath)[\(i)]", "value \(v.displayText) appears twice") } else { vs.append(v) }
                        }
                    }
                    matrix[item.key] = vs
                    explicit.insert(item.key)
                }
            } else {
                error(m.value, "\(path).matrix", "expected a mapping of parameter names to lists of values, found \(describe(m.value))")
            }
        }

        var pipelineSwept = Set<String>()
        for (key, entry) in sharedMatrix.sorted(by: { $0.key < $1.key }) {
            guard let spec = specs[key], matrix[key] == nil, stageParamNodes[key] == nil, overrides[key] == nil else { continue }
            guard case .sequence(let seq) = entry.node, seq.count > 0 else {
                error(entry.node, "matrix.\(key)", "expected a non-empty list of values to sweep, found \(describe(entry.node))"); continue
            }
            var vs: [JSONValue] = []
            for (i, n) in seq.enumerated() {
                if let v = value(n, as: spec.type, spec: spec, "matrix.\(key)[\(i)]") {
                    if vs.contains(v) { error(n, "matrix.\(key)[\(i)]", "value \(v.displayText) appears twice") } else { vs.append(v) }
                }
            }
            matrix[key] = vs
            pipelineSwept.insert(key)
            explicit.insert(key)
        }

        for spec in kind.parameters where values[spec.name] == nil && matrix[spec.name] == nil {
            error(field["params"]?.value ?? node, "\(path).params.\(spec.name)",
                  "missing required parameter '\(spec.name)' of kind '\(kind.name)': \(spec.description)")
        }

        // Inputs.
        var inputs: [String: InputReference] = [:]
        let slotNames = kind.inputSlots.map(\.name)
        if let i = field["inputs"] {
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
                    if let r = reference(text, item.value, ipath, from: name, stageNames: stageNames, kinds: kinds, stageMaps: stageMaps) {
                        inputs[item.key] = r
                    }
                }
            } else {
                error(i.value, "\(path).inputs", "expected a mapping of input names to references (stage.output, stage, or file:path), found \(describe(i.value))")
            }
        }
        for slot in kind.inputSlots where !slot.isOptional && inputs[slot.name] == nil {
            error(field["inputs"]?.value ?? node, "\(path).inputs.\(slot.name)",
                  "missing input '\(slot.name)' of kind '\(kind.name)': \(slot.description)")
        }

        // Gates.
        var expectations: [Expectation] = []
        if let e = field["expect"] {
            if case .mapping(let m) = e.value {
                for item in entries(m, "\(path).expect") {
                    let metrics = kind.reportedMetrics
                    if !metrics.isEmpty && !metrics.contains(item.key) {
                        error(item.keyNode, "\(path).expect.\(item.key)", "kind '\(kind.name)' does not report a metric '\(item.key)'\(_suggestion(item.key, among: metrics))")
                        continue
                    }
                    if let g = gate(item.key, item.value, "\(path).expect.\(item.key)") { expectations.append(g) }
                }
            } else {
                error(e.value, "\(path).expect", "expected a mapping of metric names to gates ({min: …, max: …} or {target: …, tolerance: …}), found \(describe(e.value))")
            }
        }
        let seedOverride = field["seed"].flatMap { seedValue($0.value, "\(path).seed") }
        if let d = field["description"] { _ = scalarString(d.value, "\(path).description") }

        guard diagnostics.count == before else { return nil }
        return StageDefinition(name: name, kind: kind.name, parameters: values, explicitParameters: explicit, inputs: inputs,
                               matrix: matrix, pipelineSwept: pipelineSwept, expectations: expectations.sorted { $0.metric < $1.metric },
                               seedOverride: seedOverride, location: loc(node))
    }

    /// `param.entry` where `param` is a map parameter: the spec and the entry's type.
    func tableEntry(_ key: String, _ specs: [String: ParameterSpec]) -> (ParameterSpec, ParameterType)? {
        guard let dot = key.firstIndex(of: "."), let spec = specs[String(key[..<dot])],
              case .table(let element) = spec.type, key.index(after: dot) < key.endIndex else { return nil }
        return (spec, element)
    }

    mutating func overrideValue(_ node: Node, spec: ParameterSpec, origin: String, into values: inout [String: JSONValue], _ explicit: inout Set<String>) {
        var sub = _ParseState(fileName: "--set \(origin)", registry: registry)
        if let v = sub.value(_textIfString(node, spec.type), as: spec.type, spec: spec, spec.name) {
            values[spec.name] = v; explicit.insert(spec.name)
        }
        for var d in sub.diagnostics { d.location = SourceLocation(file: "--set \(origin)", line: 0, column: 0); diagnostics.append(d) }
    }

    mutating func reference(_ text: String, _ node: Node, _ path: String, from stage: String, stageNames: [String],
                            kinds: [String: any StageKind], stageMaps: [String: [(key: String, keyNode: Node, value: Node)]]) -> InputReference? {
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
        guard stageNames.contains(target) else {
            error(node, path, "unknown stage '\(target)' in reference '\(text)'\(_suggestion(target, among: stageNames.filter { $0 != stage }))")
            return nil
        }
        if target == stage { error(node, path, "stage '\(stage)' cannot consume its own output (cycle: \(stage) → \(stage))"); return nil }
        guard parts.count == 2 else { return .stage(target) }
        if let outs = outputs(of: target, kinds: kinds, stageMaps: stageMaps), !outs.contains(parts[1]) {
            error(node, path, "stage '\(target)' has no output '\(parts[1])'\(_suggestion(parts[1], among: outs))")
            return nil
        }
        return .output(stage: target, output: parts[1])
    }

    mutating func gate(_ metric: String, _ node: Node, _ path: String) -> Expectation? {
        guard case .mapping(let m) = node else {
            error(node, path, "expected a gate like {min: 0.5} or {target: 0.9, tolerance: 0.02}, found \(describe(node))"); return nil
        }
        let items = entries(m, path)
        checkKeys(items, allowed: PipelineParser.gateKeys, path, what: "gate key")
        var g = Expectation(metric: metric, location: loc(node))
        for item in items {
            let p = _join(path, item.key)
            switch item.key {
            case "min": g.minimum = scalarNumber(item.value, p)
            case "max": g.maximum = scalarNumber(item.value, p)
            case "target": g.target = scalarNumber(item.value, p)
            case "tolerance":
                g.tolerance = scalarNumber(item.value, p)
                if let t = g.tolerance, t < 0 { error(item.value, p, "tolerance must be ≥ 0") }
            case "reference": g.reference = scalarNumber(item.value, p)
            case "source": g.source = scalarString(item.value, p)
            default: break
            }
        }
        if g.minimum == nil && g.maximum == nil && g.target == nil {
            error(node, path, "a gate needs min, max, or target with tolerance"); return nil
        }
        if (g.target == nil) != (g.tolerance == nil) {
            error(node, path, "target and tolerance go together (target: 0.9, tolerance: 0.02)"); return nil
        }
        if let lo = g.minimum, let hi = g.maximum, lo > hi { error(node, path, "min \(lo) is above max \(hi)"); return nil }
        return g
    }

    mutating func checkCycles(_ stages: [StageDefinition], stageItems: [(key: String, keyNode: Node, value: Node)]) {
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
                    if !reported.contains(key), let item = stageItems.first(where: { $0.key == d }) {
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

func _join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

func _fmt(_ d: Double) -> String { d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d) }

/// A copy of a node without marks, so its diagnostics print the `--set` origin instead of a position.
func _stripMarks(_ node: Node) -> Node {
    switch node {
    case .scalar(let s): return .scalar(.init(s.string, s.tag, s.style, nil))
    case .sequence(let s): return .sequence(.init(s.map(_stripMarks), s.tag, s.style, nil))
    case .mapping(let m): return .mapping(.init(m.map { (_stripMarks($0.key), _stripMarks($0.value)) }, m.tag, m.style, nil))
    case .alias: return node
    }
}

extension PipelineParser {
    /// A YAML document as a JSON value with the parser's YAML 1.2 core-schema scalars
    /// (used to check pipeline files against the JSON Schema).
    public static func documentValue(_ text: String) throws -> JSONValue {
        guard let node = try Yams.compose(yaml: text) else { return .null }
        let state = _ParseState(fileName: "", registry: KindRegistry([]))
        func convert(_ n: Node) -> JSONValue {
            switch n {
            case .scalar(let s):
                switch state.plain(s) {
                case .null: return .null
                case .bool(let b): return .bool(b)
                case .int(let i): return .integer(i)
                case .real(let d): return .number(d)
                case .nonFinite, .string: return .string(s.string)
                }
            case .sequence(let seq): return .array(seq.map(convert))
            case .mapping(let m):
                var o: [String: JSONValue] = [:]
                for (k, v) in m { o[k.scalar?.string ?? "\(k)"] = convert(v) }
                return .object(o)
            case .alias: return .null
            }
        }
        return convert(node)
    }
}

/// On the command line `--set x.env.N=1` means the text "1" when the parameter is text: no quoting needed.
func _textIfString(_ node: Node, _ type: ParameterType) -> Node {
    guard type == .string, case .scalar(let s) = node else { return node }
    return .scalar(.init(s.string, s.tag, .doubleQuoted, nil))
}
