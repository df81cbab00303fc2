import Foundation

/// An input slot of a kind: the pipeline binds it to `stage.output`, `stage`, or `file:path`.
public struct InputSlot: Sendable, Equatable {
    /// The slot name used under `inputs:`.
    public var name: String
    /// What the slot expects (shown in the schema).
    public var description: String
    /// Whether the pipeline may leave the slot unbound.
    public var isOptional: Bool

    /// Creates a slot description.
    public init(_ name: String, description: String, optional: Bool = false) {
        self.name = name
        self.description = description
        self.isOptional = optional
    }
}

/// The type of a parameter value.
public indirect enum ParameterType: Sendable, Equatable {
    /// A whole number (YAML `3`).
    case integer
    /// A real number; integers are accepted and normalized to reals so `3` and `3.0` hash alike.
    case number
    /// A string.
    case string
    /// A YAML boolean: only `true` or `false` (never `yes`, `no`, `on`, `off`).
    case boolean
    /// One of the listed strings.
    case choice([String])
    /// A list whose elements have the given type.
    case list(ParameterType)
    /// A map from string keys to values of the given type.
    case table(ParameterType)

    /// A phrase for error messages ("an integer", "a list of strings").
    public var phrase: String {
        switch self {
        case .integer: return "an integer"
        case .number: return "a number"
        case .string: return "a string"
        case .boolean: return "true or false"
        case .choice(let options): return "one of " + options.map { "'\($0)'" }.joined(separator: ", ")
        case .list(let element): return "a list of \(element.pluralPhrase)"
        case .table(let element): return "a map of names to \(element.pluralPhrase)"
        }
    }

    var pluralPhrase: String {
        switch self {
        case .integer: return "integers"
        case .number: return "numbers"
        case .string: return "strings"
        case .boolean: return "booleans"
        case .choice: return "strings (\(phrase))"
        case .list: return "lists"
        case .table: return "maps"
        }
    }
}
