import Foundation

/// The set of kinds a pipeline may use.
public struct KindRegistry: Sendable {
    /// Kinds by name.
    public let kinds: [String: any StageKind]

    /// Registers the given kinds; names must be unique.
    public init(_ kinds: [any StageKind]) {
        var byName: [String: any StageKind] = [:]
        for kind in kinds {
            precondition(byName[kind.name] == nil, "stage kind '\(kind.name)' registered twice")
            precondition(kind.name.range(of: "^[a-z][a-z0-9_-]*$", options: .regularExpression) != nil,
                         "stage kind name '\(kind.name)' must match [a-z][a-z0-9_-]*")
            byName[kind.name] = kind
        }
        self.kinds = byName
    }

    /// The kind with the given name.
    public func kind(named name: String) -> (any StageKind)? { kinds[name] }

    /// All kind names, sorted.
    public var names: [String] { kinds.keys.sorted() }
}
