import Foundation

/// The canonical description of one stage computation; its SHA-256 is the stage key.
///
/// Components: store-format version, kind, kind implementation version, resolved parameters, the
/// artifact (type, digest, size) bound to each input slot, and the derived seed (as a decimal string,
/// because it may exceed the JSON integer range). Key order and YAML layout never matter because the
/// canonical JSON sorts keys.
public struct StageSpec: Sendable {
    /// The canonical components.
    public let components: JSONValue
    /// The canonical bytes that are hashed and stored in `specs/`.
    public let data: Data
    /// SHA-256 hex of `data`.
    public let key: String

    /// Builds the spec of a stage with the given input artifacts.
    public init(kind: any StageKind, parameters: ParameterValues, inputs: [String: InputBinding], seed: UInt64) {
        var inputJSON: [String: JSONValue] = [:]
        for (slot, b) in inputs { inputJSON[slot] = b.json }
        var fields: [String: JSONValue] = [
            "format": .integer(ArtifactStore.formatVersion),
            "kind": .string(kind.name),
            "version": .string(kind.version),
            "params": .object(parameters.values),
            "inputs": .object(inputJSON),
            "seed": .string(String(seed)),
        ]
        if let external = kind.externalState(for: parameters) { fields["external"] = external }
        self.init(components: .object(fields))
    }

    /// Wraps a spec file read back from the store: the key is the hash of the stored bytes, which are
    /// exactly what was hashed when the key was made.
    public init(stored data: Data) throws {
        self.data = data
        self.key = ArtifactStore.hash(data)
        self.components = try _JSON.decode(JSONValue.self, from: data)
    }

    /// Reads the spec of `key` from the store and checks that its bytes hash to the key.
    public init(storedIn store: ArtifactStore, key: String) throws {
        guard let data = store.specData(key) else {
            throw EngineError("no stage spec for key \(key) in \(store.root.path)/specs; run `masknet run` (or `masknet plan --record-specs`) on a machine that sees this store first")
        }
        guard ArtifactStore.hash(data) == key else {
            throw EngineError("stage spec \(key) is corrupt (hash mismatch); delete \(store.specURL(key).path) and rerun")
        }
        try self.init(stored: data)
    }

    /// The seed recorded in the components.
    public var seed: UInt64 { UInt64(components.objectValue?["seed"]?.stringValue ?? "0") ?? 0 }

    /// The kind name recorded in the components.
    public var kindName: String? { components.objectValue?["kind"]?.stringValue }

    /// The kind version recorded in the components.
    public var kindVersion: String? { components.objectValue?["version"]?.stringValue }

    /// Wraps components built in memory.
    public init(components: JSONValue) {
        self.components = components
        self.data = components.canonicalData
        self.key = ArtifactStore.hash(data)
    }

    /// The input bindings recorded in the components.
    public var inputs: [String: InputBinding] {
        var out: [String: InputBinding] = [:]
        for (slot, v) in components.objectValue?["inputs"]?.objectValue ?? [:] {
            if let b = InputBinding(json: v) { out[slot] = b }
        }
        return out
    }
}

/// What an input slot receives: one artifact, or all outputs of a stage (a directory of named artifacts).
public enum InputBinding: Sendable, Hashable {
    /// One file or tree.
    case artifact(Artifact)
    /// Several named artifacts, materialized as a directory with one entry per name.
    case bundle([String: Artifact])

    var json: JSONValue {
        switch self {
        case .artifact(let a): return a.json
        case .bundle(let m): return .object(["type": "outputs", "outputs": .object(m.mapValues(\.json))])
        }
    }

    init?(json: JSONValue) {
        guard let o = json.objectValue, let type = o["type"]?.stringValue else { return nil }
        if type == "outputs" {
            var m: [String: Artifact] = [:]
            for (k, v) in o["outputs"]?.objectValue ?? [:] { if case .artifact(let a)? = InputBinding(json: v) { m[k] = a } }
            self = .bundle(m)
        } else {
            guard let d = o["digest"]?.stringValue else { return nil }
            guard let t = ArtifactType(rawValue: type) else { return nil }
            self = .artifact(Artifact(type: t, digest: d, size: o["size"]?.intValue ?? 0))
        }
    }

    /// Every artifact involved.
    public var artifacts: [Artifact] {
        switch self {
        case .artifact(let a): return [a]
        case .bundle(let m): return m.keys.sorted().map { m[$0]! }
        }
    }
}
