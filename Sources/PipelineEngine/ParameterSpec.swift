import Foundation

/// The declaration of one parameter of a kind.
public struct ParameterSpec: Sendable, Equatable {
    /// The parameter name (`learning_rate`).
    public var name: String
    /// The value type.
    public var type: ParameterType
    /// The default; `nil` makes the parameter required.
    public var defaultValue: JSONValue?
    /// Inclusive lower bound for numeric values (or list/table element values).
    public var minimum: Double?
    /// Inclusive upper bound for numeric values (or list/table element values).
    public var maximum: Double?
    /// What the parameter means, with its unit (shown in the schema and in errors).
    public var description: String

    /// Creates a parameter declaration.
    public init(_ name: String, _ type: ParameterType, default defaultValue: JSONValue? = nil,
                minimum: Double? = nil, maximum: Double? = nil, description: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.maximum = maximum
        self.description = description
    }

    /// Whether the pipeline must set the parameter.
    public var isRequired: Bool { defaultValue == nil }
}
