import Foundation

/// How a group of current values compares with a baseline's, for `no_worse_than: baseline` gates and
/// `masknet metrics diff`.
///
/// A regression is a mean below the baseline's by more than `margin` **and** Welch's one-sided t test
/// at α = 0.05 rejecting "no worse than baseline − margin": a drop that the replicates' own spread
/// explains passes. With one value on each side there is no spread to test against, and the plain
/// comparison of the two values decides.
public struct BaselineComparison: Sendable {
    /// The test level.
    public static let alpha = 0.05

    /// The current values and the baseline's.
    public var current: [Double], baseline: [Double]
    /// The allowed drop.
    public var margin: Double
    /// mean(baseline) − mean(current): positive when the current run is lower.
    public var drop: Double
    /// Welch's test, when either side has two or more values.
    public var welch: (t: Double, degreesOfFreedom: Double, p: Double)?

    /// Compares `current` with `baseline` (higher is better).
    public init(current: [Double], baseline: [Double], margin: Double) {
        self.current = current
        self.baseline = baseline
        self.margin = margin
        drop = ReplicateStatistics.mean(baseline) - ReplicateStatistics.mean(current)
        welch = ReplicateStatistics.welchWorse(current: current, baseline: baseline, margin: margin)
    }

    /// Whether this is a regression (see the type).
    public var isRegression: Bool {
        guard drop > margin else { return false }
        return welch.map { $0.p < BaselineComparison.alpha } ?? true
    }

    /// The numbers behind the verdict, in one line.
    public var explanation: String {
        func side(_ x: [Double]) -> String {
            let sd = ReplicateStatistics.standardDeviation(x)
            return "\(_num4(ReplicateStatistics.mean(x))) (n \(x.count)\(sd.isNaN ? "" : ", sd \(_num4(sd))"))"
        }
        var text = "mean \(side(current)) vs baseline \(side(baseline)): "
        text += drop > 0 ? "drop \(_num4(drop))" : "gain \(_num4(-drop))"
        text += drop > margin ? " > margin \(_num4(margin))" : " ≤ margin \(_num4(margin))"
        if let w = welch {
            let verdict = w.p < BaselineComparison.alpha ? "<" : "≥"
            text += String(format: "; Welch one-sided t = %.3g, df %.3g, p = %.3g %@ %.2g", w.t, w.degreesOfFreedom, w.p, verdict, BaselineComparison.alpha)
        } else {
            text += "; no test (one value on each side: add replicates)"
        }
        return text + (isRegression ? " → regression" : drop > margin ? " → within noise" : "")
    }
}

/// The numbers behind an aggregate or baseline verdict in a form reports can draw (the verdict's
/// `detail` says the same in one line): the gate's levels, the cells' interval, the baseline comparison.
public struct AggregateStatistics: Codable, Sendable, Equatable {
    /// A 95 % interval of the cells: Student's t over the cells' values, or Wilson over pooled trials.
    public struct Interval: Codable, Sendable, Equatable {
        /// `Student t 95 %` or `Wilson 95 %`.
        public var method: String
        public var low: Double, high: Double
    }

    /// A group's comparison with the baseline (higher is better).
    public struct Baseline: Codable, Sendable, Equatable {
        /// The run the baseline metrics come from.
        public var run: String
        /// The baseline's values of the metric, cell by cell.
        public var values: [Double]
        /// Their mean.
        public var mean: Double
        /// mean(current) − mean(baseline): negative for a drop.
        public var difference: Double
        /// The allowed drop.
        public var margin: Double
        /// The test, e.g. `Welch one-sided t, α = 0.05`, or `none (one value on each side)`.
        public var test: String
        /// Its statistic, degrees of freedom and p-value (nil without a test).
        public var t: Double?, degreesOfFreedom: Double?, p: Double?
        /// `regression`, `within noise` (a drop beyond the margin the test does not confirm) or `no regression`.
        public var outcome: String
    }

    /// The statistic the gate bounds (`mean`, `ci95_low`, …) or `baseline`.
    public var statistic: String
    /// The gate's bounds on that statistic (for baseline gates: the baseline mean − margin as minimum).
    public var minimum: Double?, maximum: Double?
    /// The cells' 95 % interval (nil with fewer than two cells).
    public var interval: Interval?
    /// For baseline gates with a baseline.
    public var baseline: Baseline?
}

/// Aggregate gates (statistics over a swept stage's cells) and baseline gates of a finished run.
public enum AggregateGates {
    /// The verdicts of every aggregate and baseline gate of `graph`, over the cells in `record`.
    /// `baseline` is what `--baseline` named (nil: baseline gates fail and say how to give one).
    public static func verdicts(graph: PipelineGraph, record: RunRecord, baseline: MetricsSnapshot?) -> [GateVerdict] {
        var expectations: [String: [Expectation]] = [:]
        for s in graph.stages where expectations[s.baseName] == nil { expectations[s.baseName] = s.expectations }
        let baselineGroups = Dictionary((baseline?.groups ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [GateVerdict] = []
        for group in MetricsSnapshot(run: record).groups {
            for g in expectations[group.baseName] ?? [] {
                out += aggregateVerdicts(g, group: group)
                if let margin = g.baselineMargin {
                    out.append(baselineVerdict(g, margin: margin, group: group, baseline: baseline, baselineGroup: baselineGroups[group.name]))
                }
            }
        }
        return out
    }

    /// Statistics in the order verdicts list them.
    static let statisticOrder = ["mean", "min", "max", "std", "ci95_low", "ci95_high", "wilson95_low", "wilson95_high"]

    static func aggregateVerdicts(_ g: Expectation, group: MetricsSnapshot.Group) -> [GateVerdict] {
        let cells = group.values(g.metric)
        let x = cells.map(\.value)
        var out: [GateVerdict] = []
        for statistic in statisticOrder {
            guard let bounds = g.aggregates[statistic] else { continue }
            var v = GateVerdict(stage: group.name, metric: g.metric, condition: "\(statistic) \(bounds.condition)", value: nil,
                                passed: false, message: "", reference: g.reference, source: g.source)
            v.cells = cells
            var statistics = AggregateStatistics(statistic: statistic, minimum: bounds.minimum, maximum: bounds.maximum)
            if let ci = ReplicateStatistics.studentInterval95(x) {
                statistics.interval = .init(method: "Student t 95 %", low: ci.low, high: ci.high)
            }
            v.statistics = statistics
            if cells.count < group.cells.count {
                let missing = group.cells.filter { $0.metrics[g.metric] == nil }.map(\.name)
                v.message = "\(missing.count) of \(group.cells.count) cells did not report '\(g.metric)' (\(missing.joined(separator: ", "))); the \(statistic) needs every cell"
                out.append(v); continue
            }
            let value: Double?
            var detail: String?
            switch statistic {
            case "mean": value = ReplicateStatistics.mean(x)
            case "min": value = x.min()
            case "max": value = x.max()
            case "std": value = x.count >= 2 ? ReplicateStatistics.standardDeviation(x) : nil
            case "ci95_low", "ci95_high":
                let ci = ReplicateStatistics.studentInterval95(x)
                value = statistic == "ci95_low" ? ci?.low : ci?.high
                let t = ReplicateStatistics.studentTQuantile(0.975, degreesOfFreedom: Double(x.count - 1))
                if let ci { detail = "Student t 95 % over \(x.count) cells: mean \(_num4(ReplicateStatistics.mean(x))) ∓ t(0.975, \(x.count - 1)) = \(_num4(t)) × sd \(_num4(ReplicateStatistics.standardDeviation(x))) / √\(x.count) → [\(_num4(ci.low)), \(_num4(ci.high))]" }
            default:  // wilson95_low, wilson95_high
                let trials = group.cells.compactMap { c in g.trials.flatMap { c.metrics[$0] } }
                if trials.count < group.cells.count {
                    v.message = "cells without the trial count '\(g.trials ?? "")': the Wilson interval pools every cell's trials; rerun them (masknet run --force STAGE)"
                    out.append(v); continue
                }
                let n = trials.reduce(0, +)
                let k = zip(x, trials).reduce(0.0) { $0 + ($1.0 * $1.1).rounded() }
                let w = ReplicateStatistics.wilsonInterval95(successes: k, trials: n)
                value = statistic == "wilson95_low" ? w?.low : w?.high
                if let w {
                    detail = "Wilson 95 % over the pooled \(_num(k)) of \(_num(n)) \(g.trials ?? "trials") → [\(_num4(w.low)), \(_num4(w.high))]"
                    v.statistics?.interval = .init(method: "Wilson 95 %", low: w.low, high: w.high)
                }
            }
            guard let value else {
                v.message = "the \(statistic) needs at least 2 cells; '\(group.name)' has \(x.count) (give the stage replicates: N)"
                out.append(v); continue
            }
            v.value = value
            v.detail = detail
            if let f = bounds.failure(for: value) { v.message = "\(statistic) \(f)" } else { v.passed = true }
            out.append(v)
        }
        return out
    }

    static func baselineVerdict(_ g: Expectation, margin: Double, group: MetricsSnapshot.Group, baseline: MetricsSnapshot?,
                                baselineGroup: MetricsSnapshot.Group?) -> GateVerdict {
        let cells = group.values(g.metric)
        var v = GateVerdict(stage: group.name, metric: g.metric,
                            condition: "no worse than baseline − \(_num(margin)) (Welch one-sided, α = \(_num(BaselineComparison.alpha)))",
                            value: cells.isEmpty ? nil : ReplicateStatistics.mean(cells.map(\.value)), passed: false, message: "",
                            reference: nil, source: baseline.map { "baseline \($0.run)" })
        v.cells = cells
        var statistics = AggregateStatistics(statistic: "baseline")
        if let ci = ReplicateStatistics.studentInterval95(cells.map(\.value)) {
            statistics.interval = .init(method: "Student t 95 %", low: ci.low, high: ci.high)
        }
        v.statistics = statistics
        guard let baseline else {
            v.message = "no baseline: run with --baseline RUN|FILE (a run id, or a file from `masknet metrics export`)"
            return v
        }
        let base = baselineGroup?.values(g.metric).map(\.value) ?? []
        guard !base.isEmpty else {
            v.message = "baseline \(baseline.run) has no '\(g.metric)' for '\(group.name)' (its groups: \(baseline.groups.map(\.name).joined(separator: ", "))); export a baseline from a run of this pipeline"
            return v
        }
        guard !cells.isEmpty else { v.message = "no cell of '\(group.name)' reported '\(g.metric)'"; return v }
        let comparison = BaselineComparison(current: cells.map(\.value), baseline: base, margin: margin)
        v.reference = ReplicateStatistics.mean(base)
        v.detail = comparison.explanation
        v.statistics?.minimum = ReplicateStatistics.mean(base) - margin
        v.statistics?.baseline = .init(
            run: baseline.run, values: base, mean: ReplicateStatistics.mean(base), difference: -comparison.drop, margin: margin,
            test: comparison.welch == nil ? "none (one value on each side)" : "Welch one-sided t, α = \(_num(BaselineComparison.alpha))",
            // No spread at all makes t and df infinite: JSON has no infinity, so they are left out (p says it).
            t: comparison.welch.flatMap { $0.t.isFinite ? $0.t : nil },
            degreesOfFreedom: comparison.welch.flatMap { $0.degreesOfFreedom.isFinite ? $0.degreesOfFreedom : nil }, p: comparison.welch?.p,
            outcome: comparison.isRegression ? "regression" : comparison.drop > margin ? "within noise" : "no regression")
        v.passed = !comparison.isRegression
        if !v.passed { v.message = comparison.explanation }
        return v
    }

    /// `masknet metrics diff A B`: every group and metric both have, with B compared against A as its
    /// baseline by the same rule as `no_worse_than` (higher is better; read the change for other metrics).
    public static func diffTable(_ a: MetricsSnapshot, _ b: MetricsSnapshot, margin: Double) -> String {
        var lines = ["A = \(a.run), B = \(b.run); B regresses when its mean is below A's by more than \(_num(margin)) and Welch's one-sided t test at \(_num(BaselineComparison.alpha)) agrees.", "",
                     "| group | metric | A mean (n) | B mean (n) | B − A | Welch p | verdict |", "|---|---|---|---|---|---|---|"]
        let aGroups = Dictionary(a.groups.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        let bGroups = Dictionary(b.groups.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        let names = a.groups.map(\.name) + b.groups.map(\.name).filter { aGroups[$0] == nil }
        for name in names {
            let metrics = Set((aGroups[name]?.cells ?? []).flatMap(\.metrics.keys)).union((bGroups[name]?.cells ?? []).flatMap(\.metrics.keys))
            for metric in metrics.sorted() {
                let x = aGroups[name]?.values(metric).map(\.value) ?? [], y = bGroups[name]?.values(metric).map(\.value) ?? []
                func cell(_ v: [Double]) -> String { v.isEmpty ? "—" : "\(_num4(ReplicateStatistics.mean(v))) (\(v.count))" }
                guard !x.isEmpty, !y.isEmpty else {
                    lines.append("| \(name) | \(metric) | \(cell(x)) | \(cell(y)) | | | \(x.isEmpty ? "new" : "removed") |"); continue
                }
                let c = BaselineComparison(current: y, baseline: x, margin: margin)
                let change = -c.drop
                let verdict = c.isRegression ? "**regression**" : c.drop > margin ? "within noise" : change == 0 ? "same" : ""
                lines.append("| \(name) | \(metric) | \(cell(x)) | \(cell(y)) | \(change >= 0 ? "+" : "")\(_num4(change)) | \(c.welch.map { String(format: "%.3g", $0.p) } ?? "—") | \(verdict) |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Four significant digits, for the numbers behind statistical verdicts.
func _num4(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.rounded() == d && abs(d) < 1e12 { return String(Int(d)) }
    return String(format: "%.4g", d)
}
