import Foundation

/// Where something came from: a position in a pipeline file, or a command-line override.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    /// The file path as given (or `--set` for command-line overrides).
    public var file: String
    /// 1-based line (0 when unknown).
    public var line: Int
    /// 1-based column (0 when unknown).
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file; self.line = line; self.column = column
    }

    /// `file:line:column`.
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }
}

/// One problem found in a pipeline file, with where it is and the key path that leads to it.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    /// Where the offending node starts.
    public var location: SourceLocation
    /// Dotted key path (`stages.train.params.epochs`).
    public var keyPath: String
    /// What is wrong and what to do.
    public var message: String

    /// Creates a diagnostic.
    public init(location: SourceLocation, keyPath: String, message: String) {
        self.location = location; self.keyPath = keyPath; self.message = message
    }

    /// `file:line:column: error: key.path: message`.
    public var description: String {
        "\(location): error: \(keyPath.isEmpty ? "(top level)" : keyPath): \(message)"
    }
}

/// A pipeline file that cannot run, with every problem found (not only the first).
public struct PipelineValidationError: Error, CustomStringConvertible {
    /// The problems, in file order.
    public var diagnostics: [Diagnostic]

    /// Wraps diagnostics.
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// One line per diagnostic.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Errors of the engine outside validation (store, locks, stages); messages say what to do.
public struct EngineError: Error, CustomStringConvertible {
    /// The message.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Levenshtein edit distance, for did-you-mean suggestions.
func _editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The closest candidate within a distance that scales with the word length, or nil.
func _closest(_ word: String, among candidates: [String]) -> String? {
    // Short names tolerate one edit (so `zz` does not suggest `a`); longer ones a third of their length.
    let limit = word.count <= 3 ? 1 : max(2, word.count / 3)
    var best: (String, Int)?
    for c in candidates.sorted() {
        let d = _editDistance(word, c)
        if d <= limit, best == nil || d < best!.1 { best = (c, d) }
    }
    return best?.0
}

/// " (did you mean 'x'?)" or a list of valid names.
func _suggestion(_ word: String, among candidates: [String]) -> String {
    if let c = _closest(word, among: candidates) { return " (did you mean '\(c)'?)" }
    if candidates.isEmpty { return "" }
    let shown = candidates.sorted().prefix(12).joined(separator: ", ")
    return " (valid: \(shown)\(candidates.count > 12 ? ", …" : ""))"
}
