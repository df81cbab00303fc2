import Foundation

/// A kind of stage (`command`, and later the ML kinds): what a pipeline file may write under `kind:`.
///
/// The engine knows nothing about what a kind does. A kind declares its parameters (used for
/// validation, did-you-mean suggestions and the JSON Schema), its input slots and output names, its
/// determinism, and an implementation version that enters every stage key: bump `version` whenever
/// the same inputs and parameters would now produce different outputs, and every cached result of the
/// kind is recomputed.
///
/// `execute` is synchronous and is called on a worker thread; CPU-heavy kinds simply compute.
public protocol StageKind: Sendable {
    /// The name used in pipeline files (`kind: command`); lowercase letters, digits, `_` and `-`.
    var name: String { get }
    /// The implementation version; part of every stage key of this kind.
    var version: String { get }
    /// One line saying what the kind does (shown in the schema and `masknet schema`).
    var summary: String { get }
    /// The parameters the kind accepts, with types, defaults, ranges and descriptions.
    var parameters: [ParameterSpec] { get }
    /// The named inputs the kind expects; each is bound in the pipeline to another stage's output.
    var inputSlots: [InputSlot] { get }
    /// Whether the pipeline may bind input names the kind does not declare (true for `command`).
    var acceptsAdditionalInputs: Bool { get }
    /// The names of the outputs a stage of this kind produces with the given parameters.
    func outputNames(for parameters: ParameterValues) -> [String]
    /// The metric names `execute` reports, so `expect:` gates are checked (with did-you-mean) before
    /// anything runs; empty means "not known in advance" (as for `command`).
    var reportedMetrics: [String] { get }
    /// Whether the outputs are a function of the key (recorded, and shown by `plan`).
    var determinism: Determinism { get }
    /// How heavy the kind's stages are (default resources and local execution on a cluster; never in the key).
    var workload: StageWorkload { get }
    /// A fingerprint of what the stage reads from outside the store (a data folder named by a parameter,
    /// see `ExternalState.fingerprint`), computed when the key is made and part of it; nil for none.
    /// This lets a pipeline name real data by a parameter that validates anywhere, while a change to the
    /// data still changes the key.
    func externalState(for parameters: ParameterValues) -> JSONValue?
    /// Runs the stage: read `context.inputs`, write every output to `context.outputURL(name)`.
    /// Throw to fail; a failure is never cached.
    func execute(_ context: StageContext) throws -> StageResult
}

extension StageKind {
    /// By default a kind only accepts its declared input slots.
    public var acceptsAdditionalInputs: Bool { false }

    /// By default a kind reads nothing outside the store.
    public func externalState(for parameters: ParameterValues) -> JSONValue? { nil }
    /// By default the metrics are not declared in advance.
    public var reportedMetrics: [String] { [] }
    /// By default a stage is as heavy as an evaluation.
    public var workload: StageWorkload { .evaluation }
}

/// How reproducible a kind's outputs are.
public enum Determinism: Sendable, Equatable {
    /// The same inputs and parameters always produce the same bytes; the seed is not used.
    case deterministic
    /// Deterministic given the derived seed (all randomness comes from `StageContext.seed`).
    case seeded
    /// Outputs may differ between runs with the same key (say why, e.g. "thread-order float sums").
    /// Results are still cached: downstream stages key on the actual output digests.
    case nondeterministic(reason: String)

    /// A short label for records and tables.
    public var label: String {
        switch self {
        case .deterministic: return "deterministic"
        case .seeded: return "deterministic given seed"
        case .nondeterministic(let reason): return "nondeterministic (\(reason))"
        }
    }
}

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

extension ParameterType {
    /// The value with reals restored where the type says real (JSON read back may have turned `1.0` into `1`).
    public func normalize(_ v: JSONValue) -> JSONValue {
        switch (self, v) {
        case (.number, .integer(let i)): return .number(Double(i))
        case (.list(let e), .array(let a)): return .array(a.map(e.normalize))
        case (.table(let e), .object(let o)): return .object(o.mapValues(e.normalize))
        default: return v
        }
    }
}

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

/// Progress inside a stage (training reports epoch, step, loss and throughput).
public struct StageProgress: Sendable, Equatable {
    /// Current epoch (1-based), if the stage has epochs.
    public var epoch: Int?
    /// Total epochs.
    public var epochs: Int?
    /// Current step within the epoch or the stage.
    public var step: Int?
    /// Total steps.
    public var steps: Int?
    /// Latest loss.
    public var loss: Double?
    /// Items per second (`unit` says which items).
    public var throughput: Double?
    /// The items counted by `throughput` ("images").
    public var unit: String?
    /// Fraction of the stage done in [0, 1]; drives the ETA.
    public var fraction: Double?
    /// A free-form note.
    public var message: String?

    /// Creates a progress report; every field is optional.
    public init(epoch: Int? = nil, epochs: Int? = nil, step: Int? = nil, steps: Int? = nil, loss: Double? = nil,
                throughput: Double? = nil, unit: String? = nil, fraction: Double? = nil, message: String? = nil) {
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.steps = steps; self.loss = loss
        self.throughput = throughput; self.unit = unit; self.fraction = fraction; self.message = message
    }
}

/// What a stage returns: metrics that gates (`expect:`) check and run records keep.
public struct StageResult: Sendable, Equatable {
    /// Metric name → value (finite).
    public var metrics: [String: Double]

    /// Creates a result.
    public init(metrics: [String: Double] = [:]) { self.metrics = metrics }
}

/// Everything a running stage may touch.
///
/// Inputs are read-only hard links to store objects (never write to them). Outputs go to
/// `outputURL(name)` in a scratch directory; the engine verifies and publishes them atomically after
/// `execute` returns. `checkpointDirectory` survives interruption and failure, and is deleted once the
/// stage's result is published, so a long stage can resume within itself.
public final class StageContext: @unchecked Sendable {
    /// The stage's name in the pipeline (a sweep cell's full name, e.g. `train[lr=0.1]`).
    public let stageName: String
    /// The resolved parameters.
    public let parameters: ParameterValues
    /// Slot name → path of the bound artifact (a file, or a directory). Read-only.
    public let inputs: [String: URL]
    /// Directory where each declared output must be created as `outputDirectory/<name>`.
    public let outputDirectory: URL
    /// Directory for temporary files (deleted after the stage).
    public let temporaryDirectory: URL
    /// Directory that survives interruption, for resuming within the stage.
    public let checkpointDirectory: URL
    /// The stage's seed, derived from the pipeline seed and the stage name; part of the key.
    public let seed: UInt64
    /// The declared output names.
    public let outputNames: [String]
    /// File that collects the stage's log (also where `command` writes stdout/stderr).
    public let logURL: URL

    private let _progress: @Sendable (StageProgress) -> Void
    private let _lock = NSLock()
    private var _cancelled = false
    private var _cancelHandlers: [@Sendable () -> Void] = []
    private var _logHandle: FileHandle?
    private var _peakMemory = 0

    /// Creates a context (the engine does this; tests of kinds may too).
    public init(stageName: String, parameters: ParameterValues, inputs: [String: URL], outputDirectory: URL,
                temporaryDirectory: URL, checkpointDirectory: URL, seed: UInt64, outputNames: [String],
                logURL: URL, progress: @escaping @Sendable (StageProgress) -> Void = { _ in }) {
        self.stageName = stageName
        self.parameters = parameters
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.temporaryDirectory = temporaryDirectory
        self.checkpointDirectory = checkpointDirectory
        self.seed = seed
        self.outputNames = outputNames
        self.logURL = logURL
        self._progress = progress
    }

    /// Where to write the output `name` (a file, or a directory you create).
    public func outputURL(_ name: String) -> URL {
        precondition(outputNames.contains(name), "output '\(name)' is not declared; declared: \(outputNames)")
        return outputDirectory.appendingPathComponent(name)
    }

    /// The path bound to input slot `name`, if bound.
    public func input(_ name: String) -> URL? { inputs[name] }

    /// Reports progress (shown live on a terminal, as log lines, or as JSON events).
    public func report(_ progress: StageProgress) { _progress(progress) }

    /// Appends a line to the stage log.
    public func log(_ message: String) {
        _lock.lock(); defer { _lock.unlock() }
        if _logHandle == nil {
            if !FileManager.default.fileExists(atPath: logURL.path) {
                _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
            }
            _logHandle = try? FileHandle(forWritingTo: logURL)
            _ = try? _logHandle?.seekToEnd()
        }
        _logHandle?.write(Data((message + "\n").utf8))
    }

    /// Records the peak resident memory of a child process the stage ran (bytes); the engine keeps the max.
    public func notePeakMemory(_ bytes: Int) {
        _lock.lock(); defer { _lock.unlock() }
        _peakMemory = max(_peakMemory, bytes)
    }

    var _notedPeakMemory: Int { _lock.lock(); defer { _lock.unlock() }; return _peakMemory }

    /// Whether the run was interrupted; long stages should check it between steps and throw.
    public var isCancelled: Bool { _lock.lock(); defer { _lock.unlock() }; return _cancelled }

    /// Registers work to do on interruption (e.g. kill a child process). Runs at once if already cancelled.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        _lock.lock()
        if _cancelled { _lock.unlock(); handler(); return }
        _cancelHandlers.append(handler)
        _lock.unlock()
    }

    /// Marks the context cancelled and runs the cancellation handlers (engine use).
    public func cancel() {
        _lock.lock()
        if _cancelled { _lock.unlock(); return }
        _cancelled = true
        let handlers = _cancelHandlers
        _cancelHandlers = []
        _lock.unlock()
        for h in handlers { h() }
    }

    func _closeLog() {
        _lock.lock(); defer { _lock.unlock() }
        try? _logHandle?.close()
        _logHandle = nil
    }
}

/// Thrown by a kind when the run was interrupted (see `StageContext.isCancelled`).
public struct StageCancelled: Error, CustomStringConvertible {
    /// Creates the error.
    public init() {}
    /// Message.
    public var description: String { "interrupted" }
}

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
