import Foundation
import Yams

/// Gates (`expect:`): one metric → one gate mapping.
///
/// A gate is parsed in two steps: `expectations` checks the metric names against the kind, `gate` reads
/// one mapping. Besides a plain bound on each cell's value (`{min: 0.5}`) a gate may hold aggregate forms
/// over the cells of a swept stage, each statistic's value parsed by `gate` again
/// (`{mean: {min: 0.3}, ci95_low: {min: 0.27}}`), and a baseline comparison
/// (`{no_worse_than: baseline, margin: 0.02}`). `min`/`max` are bounds when their value is a number and
/// statistics when it is a mapping.
extension _ParseState {
    /// The statistics an aggregate gate can bound.
    static let aggregateStatistics = ["mean", "min", "max", "std", "ci95_low", "ci95_high", "wilson95_low", "wilson95_high"]
    /// The keys a gate mapping may have.
    static let gateKeys = ["min", "max", "target", "tolerance", "reference", "source", "mean", "std", "ci95_low", "ci95_high",
                           "wilson95_low", "wilson95_high", "trials", "no_worse_than", "margin"]
    /// The keys of a statistic's bounds (`mean: {min: 0.3}`).
    static let boundKeys = ["min", "max", "target", "tolerance"]

    /// A stage's `expect:` block, sorted by metric.
    mutating func expectations(_ input: StageParseInput) -> [Expectation] {
        let kind = input.kind, path = input.path
        var expectations: [Expectation] = []
        guard let e = input.fields["expect"] else { return [] }
        guard case .mapping(let m) = e.value else {
            error(e.value, "\(path).expect", "expected a mapping of metric names to gates ({min: …, max: …} or {target: …, tolerance: …}), found \(describe(e.value))")
            return []
        }
        for item in entries(m, "\(path).expect") {
            let metrics = kind.reportedMetrics
            if !metrics.isEmpty && !metrics.contains(item.key) {
                error(item.keyNode, "\(path).expect.\(item.key)", "kind '\(kind.name)' does not report a metric '\(item.key)'\(_suggestion(item.key, among: metrics))")
                continue
            }
            let gpath = "\(path).expect.\(item.key)"
            guard let g = gate(item.key, item.value, gpath) else { continue }
            if let trials = g.trials, !metrics.isEmpty, !metrics.contains(trials) {
                error(item.value, "\(gpath).trials", "kind '\(kind.name)' does not report a metric '\(trials)' to count trials with\(_suggestion(trials, among: metrics))")
                continue
            }
            expectations.append(g)
        }
        return expectations.sorted { $0.metric < $1.metric }
    }

    /// One gate mapping: bounds on each cell (`min`/`max`, or `target` with `tolerance`), aggregate
    /// statistics with their own bounds, a baseline comparison, plus an optional reference and source.
    /// `statistic` is set when reading the bounds of one aggregate statistic, which take bounds only.
    mutating func gate(_ metric: String, _ node: Node, _ path: String, statistic: String? = nil) -> Expectation? {
        guard case .mapping(let m) = node else {
            if let statistic {
                error(node, path, "expected bounds on the \(statistic) like {min: 0.3}, found \(describe(node))"); return nil
            }
            error(node, path, "expected a gate like {min: 0.5}, {target: 0.9, tolerance: 0.02}, {mean: {min: 0.3}} or {no_worse_than: baseline, margin: 0.02}, found \(describe(node))"); return nil
        }
        let items = entries(m, path)
        checkKeys(items, allowed: statistic == nil ? _ParseState.gateKeys : _ParseState.boundKeys, path,
                  what: statistic == nil ? "gate key" : "bound of the \(statistic!)")
        var g = Expectation(metric: metric, location: loc(node))
        var hasBaseline = false
        for item in items {
            let p = _join(path, item.key)
            if statistic == nil, _ParseState.aggregateStatistics.contains(item.key), case .mapping = item.value {
                if let bounds = gate(metric, item.value, p, statistic: item.key) { g.aggregates[item.key] = bounds }
                continue
            }
            switch item.key {
            case "min": g.minimum = scalarNumber(item.value, p)
            case "max": g.maximum = scalarNumber(item.value, p)
            case "target": g.target = scalarNumber(item.value, p)
            case "tolerance":
                g.tolerance = scalarNumber(item.value, p)
                if let t = g.tolerance, t < 0 { error(item.value, p, "tolerance must be ≥ 0") }
            case "reference": g.reference = scalarNumber(item.value, p)
            case "source": g.source = scalarString(item.value, p)
            case "trials": g.trials = scalarString(item.value, p)
            case "no_worse_than":
                hasBaseline = true
                if let v = scalarString(item.value, p), v != "baseline" {
                    error(item.value, p, "no_worse_than compares with the run or metrics file given by --baseline; write no_worse_than: baseline")
                }
            case "margin":
                if let v = scalarNumber(item.value, p) {
                    if v < 0 { error(item.value, p, "margin must be ≥ 0") } else { g.baselineMargin = v }
                }
            case let s where _ParseState.aggregateStatistics.contains(s):
                error(item.value, p, "'\(s)' is a statistic over the cells of a swept stage; give its bounds as a mapping, e.g. \(s): {min: 0.3}")
            default: break
            }
        }
        if hasBaseline && g.baselineMargin == nil { g.baselineMargin = 0 }
        if g.baselineMargin != nil && !hasBaseline {
            error(node, path, "margin belongs to a baseline gate: add no_worse_than: baseline"); return nil
        }
        let wilson = g.aggregates.keys.contains { $0.hasPrefix("wilson") }
        if wilson && g.trials == nil {
            error(node, path, "a Wilson interval pools the cells' trials: name the metric that counts them, e.g. trials: slices"); return nil
        }
        if g.trials != nil && !wilson { error(node, path, "trials: is only used by wilson95_low/wilson95_high; remove it or add one"); return nil }
        if !g.checksEachCell && g.aggregates.isEmpty && g.baselineMargin == nil {
            error(node, path, statistic == nil ? "a gate needs min, max, target with tolerance, a statistic (mean: {min: …}) or no_worse_than: baseline"
                                               : "bounds need min, max, or target with tolerance"); return nil
        }
        if (g.target == nil) != (g.tolerance == nil) {
            error(node, path, "target and tolerance go together (target: 0.9, tolerance: 0.02)"); return nil
        }
        if let lo = g.minimum, let hi = g.maximum, lo > hi { error(node, path, "min \(lo) is above max \(hi)"); return nil }
        return g
    }
}
