import Foundation
import Yams

/// Reads and validates pipeline files against the registered kinds; nothing runs before this passes.
///
/// All problems are collected and thrown together as a `PipelineValidationError`, each with
/// `file:line:column` and the key path. The work is split by concern over `_ParseState` extensions:
/// the top level (`+Pipeline`), one stage (`+Stage`), `--set` overrides (`+Overrides`), sweeps
/// (`+Matrix`), inputs and references (`+References`), gates (`+Gates`) and typed values (`+Values`).
public struct PipelineParser {
    /// The kinds a pipeline may use.
    public let registry: KindRegistry

    /// Creates a parser for the given kinds.
    public init(registry: KindRegistry) { self.registry = registry }

    static let topLevelKeys = ["pipeline", "description", "seed", "params", "matrix", "stages"]
    static let stageKeys = ["kind", "description", "params", "inputs", "matrix", "expect", "seed", "resources", "retries", "replicates"]  // resources/retries: read by executors (SlurmExecution), never part of a key

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

extension URL {
    /// The path relative to the current directory when it is inside it (for readable messages).
    var relativePathForDisplay: String {
        let cwd = FileManager.default.currentDirectoryPath
        let p = standardizedFileURL.path
        if p.hasPrefix(cwd + "/") { return String(p.dropFirst(cwd.count + 1)) }
        return p
    }
}
