import Foundation
import Yams

/// Gates (`expect:`): one metric → one gate mapping.
///
/// A gate is parsed in two steps so that new forms slot in beside the existing one: `expectations`
/// checks the metric names against the kind, `gate` reads one mapping's bounds. An aggregate form
/// over sweep cells (`{mean: {min: …}}`) would be a new key in `gateKeys` whose value is parsed by
/// `gate` again.
extension _ParseState {
    /// The keys a gate mapping may have.
    static let gateKeys = ["min", "max", "target", "tolerance", "reference", "source"]

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
            if let g = gate(item.key, item.value, "\(path).expect.\(item.key)") { expectations.append(g) }
        }
        return expectations.sorted { $0.metric < $1.metric }
    }

    /// One gate mapping: `min`/`max`, or `target` with `tolerance`, plus an optional reference and source.
    mutating func gate(_ metric: String, _ node: Node, _ path: String) -> Expectation? {
        guard case .mapping(let m) = node else {
            error(node, path, "expected a gate like {min: 0.5} or {target: 0.9, tolerance: 0.02}, found \(describe(node))"); return nil
        }
        let items = entries(m, path)
        checkKeys(items, allowed: _ParseState.gateKeys, path, what: "gate key")
        var g = Expectation(metric: metric, location: loc(node))
        for item in items {
            let p = _join(path, item.key)
            switch item.key {
            case "min": g.minimum = scalarNumber(item.value, p)
            case "max": g.maximum = scalarNumber(item.value, p)
            case "target": g.target = scalarNumber(item.value, p)
            case "tolerance":
                g.tolerance = scalarNumber(item.value, p)
                if let t = g.tolerance, t < 0 { error(item.value, p, "tolerance must be ≥ 0") }
            case "reference": g.reference = scalarNumber(item.value, p)
            case "source": g.source = scalarString(item.value, p)
            default: break
            }
        }
        if g.minimum == nil && g.maximum == nil && g.target == nil {
            error(node, path, "a gate needs min, max, or target with tolerance"); return nil
        }
        if (g.target == nil) != (g.tolerance == nil) {
            error(node, path, "target and tolerance go together (target: 0.9, tolerance: 0.02)"); return nil
        }
        if let lo = g.minimum, let hi = g.maximum, lo > hi { error(node, path, "min \(lo) is above max \(hi)"); return nil }
        return g
    }
}
