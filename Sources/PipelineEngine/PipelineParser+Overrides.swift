import Foundation
import Yams

/// The `--set KEY=VALUE` overrides of one parse, split by what they target.
///
/// Override values carry no file position: their diagnostics print the `--set` text instead, and
/// `_ParseState.overrideError` is the one place that builds them.
struct CommandLineOverrides {
    /// `--set seed=N`.
    var seed: UInt64?
    /// `--set key=value` for a shared parameter: key → value.
    var shared: [String: Node] = [:]
    /// `--set stage.key=value`: stage → key → value (`key` may be `param.entry` of a map parameter).
    var perStage: [String: [String: Node]] = [:]
    /// The key as given (`train.epochs`) → the whole `--set` text, for messages.
    var origins: [String: String] = [:]

    /// The `--set` text that set `key` (the key itself when unknown).
    func origin(_ key: String) -> String { origins[key] ?? key }
}

extension _ParseState {
    /// Splits `--set` strings into seed, shared and per-stage overrides; reports malformed ones.
    mutating func parseOverrides(_ strings: [String]) -> CommandLineOverrides {
        var result = CommandLineOverrides()
        for o in strings {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                overrideError(o, o, "expected KEY=VALUE, e.g. --set train.epochs=3 or --set seed=7")
                continue
            }
            let key = String(o[..<eq]), raw = String(o[o.index(after: eq)...])
            let node = (try? Yams.compose(yaml: raw)).flatMap { $0 } ?? Node.scalar(.init(raw, .implicit, .plain))
            let located = _stripMarks(node)
            result.origins[key] = o
            if key == "seed" {
                guard case .scalar(let s) = located, case .int(let i) = plain(s), i >= 0 else {
                    overrideError(o, "seed", "a seed is a non-negative integer"); continue
                }
                result.seed = UInt64(i)
            } else if let dot = key.firstIndex(of: ".") {
                result.perStage[String(key[..<dot]), default: [:]][String(key[key.index(after: dot)...])] = located
            } else {
                result.shared[key] = located
            }
        }
        return result
    }

    /// Reports a problem with a `--set` override; `origin` is the `--set` text (or its key).
    mutating func overrideError(_ origin: String, _ keyPath: String, _ message: String) {
        diagnostics.append(Diagnostic(location: SourceLocation(file: "--set \(origin)", line: 0, column: 0), keyPath: keyPath, message: message))
    }

    /// An override's value checked against `type` and `spec`, or nil after reporting (at its `--set` origin) why not.
    mutating func overrideValue(_ node: Node, as type: ParameterType, spec: ParameterSpec, origin: String, _ path: String) -> JSONValue? {
        var sub = _ParseState(fileName: "--set \(origin)", registry: registry)
        let v = sub.value(_textIfString(node, type), as: type, spec: spec, path)
        for d in sub.diagnostics { overrideError(origin, d.keyPath, d.message) }
        return v
    }
}

/// A copy of a node without marks, so its diagnostics print the `--set` origin instead of a position.
func _stripMarks(_ node: Node) -> Node {
    switch node {
    case .scalar(let s): return .scalar(.init(s.string, s.tag, s.style, nil))
    case .sequence(let s): return .sequence(.init(s.map(_stripMarks), s.tag, s.style, nil))
    case .mapping(let m): return .mapping(.init(m.map { (_stripMarks($0.key), _stripMarks($0.value)) }, m.tag, m.style, nil))
    case .alias: return node
    }
}

/// On the command line `--set x.env.N=1` means the text "1" when the parameter is text: no quoting needed.
func _textIfString(_ node: Node, _ type: ParameterType) -> Node {
    guard type == .string, case .scalar(let s) = node else { return node }
    return .scalar(.init(s.string, s.tag, .doubleQuoted, nil))
}
