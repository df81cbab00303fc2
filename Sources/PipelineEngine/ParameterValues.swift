import Foundation

/// The resolved, validated parameters of one stage (defaults filled in, types normalized).
public struct ParameterValues: Sendable, Equatable {
    /// Every parameter of the kind with its value.
    public let values: [String: JSONValue]

    /// Wraps validated values.
    public init(_ values: [String: JSONValue]) { self.values = values }

    /// The value of a parameter, or `nil` if the kind has no such parameter.
    public subscript(_ name: String) -> JSONValue? { values[name] }

    /// An integer parameter (the validator guarantees the type).
    public func int(_ name: String) -> Int {
        guard let v = values[name]?.intValue else { preconditionFailure("parameter '\(name)' is not an integer: \(String(describing: values[name]))") }
        return v
    }
    /// A real parameter.
    public func double(_ name: String) -> Double {
        guard let v = values[name]?.doubleValue else { preconditionFailure("parameter '\(name)' is not a number: \(String(describing: values[name]))") }
        return v
    }
    /// A string (or choice) parameter.
    public func string(_ name: String) -> String {
        guard let v = values[name]?.stringValue else { preconditionFailure("parameter '\(name)' is not a string: \(String(describing: values[name]))") }
        return v
    }
    /// A boolean parameter.
    public func bool(_ name: String) -> Bool {
        guard let v = values[name]?.boolValue else { preconditionFailure("parameter '\(name)' is not a boolean: \(String(describing: values[name]))") }
        return v
    }
    /// A list-of-strings parameter.
    public func strings(_ name: String) -> [String] {
        guard let a = values[name]?.arrayValue else { preconditionFailure("parameter '\(name)' is not a list: \(String(describing: values[name]))") }
        return a.map { $0.stringValue ?? $0.canonicalText }
    }
}
