import Foundation

/// A pipeline file after validation: names, seed, and stages with resolved parameters.
public struct PipelineDefinition: Sendable {
    /// The `pipeline:` name (run records are grouped by it).
    public var name: String
    /// The optional `description:`.
    public var description: String?
    /// The pipeline seed (`seed:`, default 0); each stage derives its own from it.
    public var seed: UInt64
    /// The file it was read from.
    public var file: URL
    /// The file's text, kept for the run record.
    public var sourceText: String
    /// Stages in file order (before sweep expansion).
    public var stages: [StageDefinition]
    /// The `--set` overrides that were applied, as given.
    public var overrides: [String]
}

/// What an input slot is bound to.
public enum InputReference: Sendable, Hashable, CustomStringConvertible {
    /// One output of another stage: `stage.output`.
    case output(stage: String, output: String)
    /// All outputs of another stage, as a directory with one entry per output: `stage`.
    case stage(String)
    /// A file or directory of the workspace, hashed by content: `file:path`.
    case file(String)

    /// The stage this reference depends on, if any.
    public var stageName: String? {
        switch self {
        case .output(let s, _), .stage(let s): return s
        case .file: return nil
        }
    }

    /// The text form used in pipeline files.
    public var description: String {
        switch self {
        case .output(let s, let o): return "\(s).\(o)"
        case .stage(let s): return s
        case .file(let p): return "file:\(p)"
        }
    }
}

/// A metric gate (`expect:`): `min`, `max`, or `target` ± `tolerance`, with an optional reference.
public struct Expectation: Sendable, Equatable {
    /// The metric name the stage reports.
    public var metric: String
    /// Inclusive lower bound.
    public var minimum: Double?
    /// Inclusive upper bound.
    public var maximum: Double?
    /// Target value (requires `tolerance`).
    public var target: Double?
    /// Allowed absolute deviation from `target`.
    public var tolerance: Double?
    /// A reference value (e.g. the paper's), shown beside the verdict.
    public var reference: Double?
    /// Where the reference comes from ("Table 3 of the paper").
    public var source: String?
    /// Where the gate is written.
    public var location: SourceLocation
    /// Aggregate gates over the cells of a swept stage: statistic (`mean`, `min`, `max`, `std`,
    /// `ci95_low`, `ci95_high`, `wilson95_low`, `wilson95_high`) → bounds on it. Empty for a plain gate.
    public var aggregates: [String: Expectation] = [:]
    /// The metric holding each cell's number of trials (test slices), for Wilson intervals of a proportion.
    public var trials: String?
    /// `no_worse_than: baseline` with this margin: fails when the cells' mean is below the baseline's by
    /// more than the margin and Welch's one-sided t test at 0.05 agrees.
    public var baselineMargin: Double?

    /// Whether the gate has bounds that every cell's own value must meet.
    public var checksEachCell: Bool { minimum != nil || maximum != nil || target != nil }

    /// Checks a value; returns nil when it passes, or why it fails.
    public func failure(for value: Double) -> String? {
        if let minimum, value < minimum { return "\(value) < min \(minimum)" }
        if let maximum, value > maximum { return "\(value) > max \(maximum)" }
        if let target, let tolerance, abs(value - target) > tolerance {
            return "|\(value) − \(target)| = \(abs(value - target)) > tolerance \(tolerance)"
        }
        return nil
    }

    /// The gate as text (`≥ 0.5`, `0.9 ± 0.02`).
    public var condition: String {
        var parts: [String] = []
        if let minimum { parts.append("≥ \(_num(minimum))") }
        if let maximum { parts.append("≤ \(_num(maximum))") }
        if let target, let tolerance { parts.append("\(_num(target)) ± \(_num(tolerance))") }
        return parts.joined(separator: " and ")
    }
}

/// One stage as written (before sweep expansion), with its parameters resolved and typed.
public struct StageDefinition: Sendable {
    /// The stage name (the key under `stages:`).
    public var name: String
    /// The kind name.
    public var kind: String
    /// Every parameter of the kind: default < shared `params:` < stage `params:` < `--set`.
    public var parameters: [String: JSONValue]
    /// The parameters that are not defaults (for messages).
    public var explicitParameters: Set<String>
    /// Slot → reference, sorted by slot.
    public var inputs: [String: InputReference]
    /// `matrix:` parameter → values (already typed); empty when the stage is not swept.
    public var matrix: [String: [JSONValue]]
    /// The stage's own cells when `include:`/`exclude:` make its sweep irregular (each cell names the
    /// stage's own `matrix:` axes); nil when the sweep is the full product of `matrix`.
    public var cells: [[String: JSONValue]]?
    /// The matrix entries that come from the pipeline-level `matrix:` (shared with upstream stages that
    /// sweep the same parameter: one cell per value across the pipeline, not a cross product).
    public var pipelineSwept: Set<String>
    /// `expect:` gates.
    public var expectations: [Expectation]
    /// A `seed:` that replaces the derived seed.
    public var seedOverride: UInt64?
    /// `replicates: N`: N cells `stage[replicate=1…N]` with seeds derived from the replicate index;
    /// nil when the stage is not replicated.
    public var replicates: Int? = nil
    /// Where the stage is written.
    public var location: SourceLocation
}
