import Foundation
import TensorCore

/// A checkpoint that does not fit the model: every offending tensor is listed, so one run shows the
/// whole problem instead of the first name.
public struct CheckpointMismatchError: Error, CustomStringConvertible, Equatable {
    /// A tensor present on both sides with different shapes (or kinds: float vs int64).
    public struct Mismatch: Equatable, Sendable {
        /// The `state_dict` key.
        public var name: String
        /// What the model holds, e.g. `F32 [64, 3, 7, 7]`.
        public var expected: String
        /// What the file holds.
        public var found: String

        /// A mismatch of `name`: the model holds `expected`, the file `found`.
        public init(name: String, expected: String, found: String) {
            self.name = name
            self.expected = expected
            self.found = found
        }
    }

    /// The file (or source description) the checkpoint came from.
    public var file: String
    /// Keys the model has and the file lacks (reported only for strict loads).
    public var missing: [String]
    /// Keys the file has and the model lacks (reported only for strict loads).
    public var unexpected: [String]
    /// Keys on both sides whose shapes or kinds differ (always reported, as in PyTorch).
    public var misshaped: [Mismatch]

    /// An error listing every problem of the checkpoint `file`.
    public init(file: String, missing: [String], unexpected: [String], misshaped: [Mismatch]) {
        self.file = file
        self.missing = missing
        self.unexpected = unexpected
        self.misshaped = misshaped
    }

    public var description: String {
        var lines = ["checkpoint \(file) does not match the model:"]
        if !missing.isEmpty {
            lines.append("  missing (\(missing.count)): " + missing.joined(separator: ", "))
        }
        if !unexpected.isEmpty {
            lines.append("  unexpected (\(unexpected.count)): " + unexpected.joined(separator: ", "))
        }
        if !misshaped.isEmpty {
            lines.append("  mis-shaped (\(misshaped.count)): "
                + misshaped.map { "\($0.name) (model \($0.expected), file \($0.found))" }.joined(separator: ", "))
        }
        lines.append("  check that the checkpoint was written for this backbone, truncation and mask type")
        return lines.joined(separator: "\n")
    }
}

/// What a non-strict load did.
public struct CheckpointLoadReport: Equatable, Sendable {
    /// Keys copied from the file into the model, in the model's registration order.
    public var loaded: [String]
    /// Model keys the file did not have (left at their current values).
    public var missing: [String]
    /// File keys the model does not have (ignored).
    public var unexpected: [String]
}

extension ParameterStore {
    /// The model's state as safetensors content: every float tensor (weights and running statistics) under
    /// its `state_dict` key, every int64 buffer as an I64 scalar of shape `[]`, and `metadata` (the
    /// caller's model configuration) as `__metadata__`.
    public func stateDictionary(metadata: [String: String] = [:]) -> SafeTensorsFile {
        var file = SafeTensorsFile(metadata: metadata)
        for parameter in parameters { file.tensors[parameter.name] = parameter.value }
        for name in integerBufferNames { file.integerTensors[name] = IntegerTensor(scalar: integerBuffers[name]!) }
        return file
    }

    /// Copies a checkpoint's tensors into the model.
    ///
    /// Nothing is changed unless the whole load succeeds. Mis-shaped tensors are always an error; with
    /// `strict`, missing and unexpected keys are too (PyTorch's `load_state_dict(strict=True)`). Without
    /// `strict`, keys present on both sides are copied and the others are listed in the returned report
    /// (the classifier's weight transfer from a segmentation checkpoint works this way).
    /// - Throws: `CheckpointMismatchError` listing every missing, unexpected and mis-shaped key at once.
    @discardableResult
    public func load(from file: SafeTensorsFile, strict: Bool = true) throws -> CheckpointLoadReport {
        var missing: [String] = [], misshaped: [CheckpointMismatchError.Mismatch] = [], loaded: [String] = []
        var modelKeys = Set<String>()
        for parameter in parameters {
            modelKeys.insert(parameter.name)
            if let tensor = file.tensors[parameter.name] {
                if tensor.shape == parameter.value.shape {
                    loaded.append(parameter.name)
                } else {
                    misshaped.append(.init(name: parameter.name, expected: "F32 \(parameter.value.shape)",
                                           found: "F32 \(tensor.shape)"))
                }
            } else if let integer = file.integerTensors[parameter.name] {
                misshaped.append(.init(name: parameter.name, expected: "F32 \(parameter.value.shape)",
                                       found: "I64 \(integer.shape)"))
            } else {
                missing.append(parameter.name)
            }
        }
        for name in integerBufferNames {
            modelKeys.insert(name)
            if let integer = file.integerTensors[name] {
                if integer.shape == [] {
                    loaded.append(name)
                } else {
                    misshaped.append(.init(name: name, expected: "I64 []", found: "I64 \(integer.shape)"))
                }
            } else if let tensor = file.tensors[name] {
                misshaped.append(.init(name: name, expected: "I64 []", found: "F32 \(tensor.shape)"))
            } else {
                missing.append(name)
            }
        }
        let unexpected = file.names.filter { !modelKeys.contains($0) }
        if !misshaped.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw CheckpointMismatchError(file: file.source, missing: strict ? missing : [],
                                          unexpected: strict ? unexpected : [], misshaped: misshaped)
        }
        for name in loaded {
            if let parameter = self[name] {
                parameter.value = file.tensors[name]!
            } else {
                integerBuffers[name] = file.integerTensors[name]!.scalars[0]
            }
        }
        return CheckpointLoadReport(loaded: loaded, missing: missing, unexpected: unexpected)
    }

    /// Writes `stateDictionary(metadata:)` to `url` atomically.
    public func saveCheckpoint(to url: URL, metadata: [String: String] = [:]) throws {
        try stateDictionary(metadata: metadata).write(to: url)
    }

    /// Reads `url` and loads it (see `load(from:strict:)`); returns the file's metadata with the report.
    @discardableResult
    public func loadCheckpoint(from url: URL, strict: Bool = true) throws
        -> (metadata: [String: String], report: CheckpointLoadReport) {
        let file = try SafeTensorsFile.read(url)
        let report = try load(from: file, strict: strict)
        return (file.metadata, report)
    }
}
