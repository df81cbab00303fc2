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
