import Foundation
import Yams

/// A mapping entry as the parser walks it: the key text, the key's node (for positions) and the value.
typealias _Entry = (key: String, keyNode: Node, value: Node)

/// The mutable state of one parse: diagnostics and helpers that know the file name.
struct _ParseState {
    let fileName: String
    let registry: KindRegistry
    var diagnostics: [Diagnostic] = []

    init(fileName: String, registry: KindRegistry) {
        self.fileName = fileName
        self.registry = registry
    }

    /// The position of a node in the file being parsed.
    func loc(_ node: Node) -> SourceLocation {
        SourceLocation(file: fileName, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    /// Records a problem at a node of the file.
    mutating func error(_ node: Node, _ path: String, _ message: String) {
        diagnostics.append(Diagnostic(location: loc(node), keyPath: path, message: message))
    }

    /// A libyaml error as a diagnostic, pointing at the second occurrence of a duplicated key.
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
    mutating func entries(_ mapping: Node.Mapping, _ path: String) -> [_Entry] {
        var seen: [String: Node] = [:]
        var result: [_Entry] = []
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
    mutating func checkKeys(_ items: [_Entry], allowed: [String], _ path: String, what: String) {
        for item in items where !allowed.contains(item.key) {
            error(item.keyNode, _join(path, item.key), "unknown \(what) '\(item.key)'\(_suggestion(item.key, among: allowed))")
        }
    }
}

func _join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

func _fmt(_ d: Double) -> String { d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d) }
