import Foundation
import SVGPlotting

/// The verdict's second half: gates over the cells of replicated or swept stages. A table of the
/// aggregate gates (statistic, every cell's value, the 95 % interval), a table of the baseline
/// comparisons (means, difference, margin, test, p-value) and one chart per gated metric of each group.
extension RunReportHTML {
    /// One group's gated metric: the verdicts about it, in the order the run lists them.
    struct AggregateMetric {
        var group: String
        var metric: String
        var verdicts: [GateVerdict]
    }

    /// The aggregate and baseline verdicts, by group and metric.
    var aggregateMetrics: [AggregateMetric] {
        var out: [AggregateMetric] = []
        for v in run.aggregateGates ?? [] {
            if let i = out.firstIndex(where: { $0.group == v.stage && $0.metric == v.metric }) { out[i].verdicts.append(v) }
            else { out.append(AggregateMetric(group: v.stage, metric: v.metric, verdicts: [v])) }
        }
        return out
    }

    /// The tables and charts; empty when the run has no aggregate or baseline gate.
    func aggregateSection() -> String {
        let metrics = aggregateMetrics
        guard !metrics.isEmpty else { return "" }
        var aggregateRows: [String] = [], baselineRows: [String] = []
        for m in metrics {
            // The cells are the same for every statistic of a metric: listed once, beside the first.
            let statistics = m.verdicts.filter { !isBaseline($0) }
            for v in m.verdicts {
                let badge = "<span class=\"badge \(v.passed ? "pass" : "fail")\">\(v.passed ? "pass" : "FAIL")</span>"
                let reason = v.passed ? "" : " <span class=\"reason\">\(h(v.message))</span>"
                if isBaseline(v) {
                    baselineRows.append(baselineRow(v, badge: badge, reason: reason))
                } else {
                    let interval = v.statistics?.interval.map { "\(RunReportPage.fixed($0.low)) – \(RunReportPage.fixed($0.high)) <span class=\"reason nowrap\">(\(h($0.method)))</span>" } ?? "—"
                    let cells = statistics.first == v ? "<td rowspan=\"\(statistics.count)\">\(cellList(v))</td>" : ""
                    aggregateRows.append("""
                    <tr class="\(v.passed ? "pass" : "fail")"><td>\(h(v.stage))</td><td>\(h(label(v.metric, stage: v.stage)))</td><td class="nowrap">\(h(v.condition))</td>\
                    <td class="num">\(v.value.map { RunReportPage.fixed($0) } ?? "—")</td><td>\(interval)</td><td>\(badge)\(reason)</td>\(cells)</tr>
                    """)
                }
            }
        }
        var html = "<h3>Replicated and swept stages</h3>\n"
        if !aggregateRows.isEmpty {
            html += """
            <table class="aggregates"><thead><tr><th>cells</th><th>metric</th><th>gate</th><th>value</th><th>95 % interval of the cells</th><th>verdict</th><th>each cell</th></tr></thead>
            \(aggregateRows.joined(separator: "\n"))
            </table>

            """
        }
        if !baselineRows.isEmpty {
            html += """
            <table class="baseline"><thead><tr><th>cells</th><th>metric</th><th>mean (n)</th><th>baseline mean (n)</th><th>difference</th><th>margin</th><th>test</th><th>p</th><th>verdict</th></tr></thead>
            \(baselineRows.joined(separator: "\n"))
            </table>
            <p class="reason">A regression is a mean below the baseline's by more than the margin that the test confirms (one-sided, α = \(_num(BaselineComparison.alpha))); a larger drop the replicates' spread explains is reported as within noise.</p>

            """
        }
        html += "<div class=\"grid\">\n" + metrics.map { "<figure>\(chart($0).markup)<figcaption>\(h($0.group)): \(h($0.metric))</figcaption></figure>" }.joined(separator: "\n") + "\n</div>"
        return html
    }

    func isBaseline(_ v: GateVerdict) -> Bool {
        v.statistics?.statistic == "baseline" || (v.statistics == nil && v.condition.hasPrefix("no worse than baseline"))
    }

    func baselineRow(_ v: GateVerdict, badge: String, reason: String) -> String {
        let n = v.cells?.count ?? 0
        let current = v.value.map { "\(RunReportPage.fixed($0)) (\(n))" } ?? "—"
        guard let b = v.statistics?.baseline else {
            return "<tr class=\"\(v.passed ? "pass" : "fail")\"><td>\(h(v.stage))</td><td>\(h(label(v.metric, stage: v.stage)))</td><td class=\"num\">\(current)</td><td colspan=\"5\">—</td><td>\(badge)\(reason)</td></tr>"
        }
        let p = b.p.map { String(format: "%.3g", $0) } ?? "—"
        var test = h(b.test)
        if let t = b.t, let df = b.degreesOfFreedom { test += String(format: "<br><span class=\"reason\">t = %.3g, df %.3g</span>", t, df) }
        let outcome = b.outcome == "regression" ? "" : " <span class=\"reason\">\(h(b.outcome))</span>"
        return """
        <tr class="\(v.passed ? "pass" : "fail")"><td>\(h(v.stage))</td><td>\(h(label(v.metric, stage: v.stage)))</td><td class="num">\(current)</td>\
        <td class="num">\(RunReportPage.fixed(b.mean)) (\(b.values.count))<br><span class="reason">run \(h(b.run))</span></td>\
        <td class="num">\(b.difference >= 0 ? "+" : "−")\(RunReportPage.fixed(abs(b.difference)))</td><td class="num">\(_num(b.margin))</td>\
        <td>\(test)</td><td class="num">\(p)</td><td>\(badge)\(outcome)\(reason)</td></tr>
        """
    }

    /// Every cell behind an aggregate: its coordinates without the stage name, and its value.
    func cellList(_ v: GateVerdict) -> String {
        guard let cells = v.cells, !cells.isEmpty else { return "—" }
        return cells.map { c in
            let coordinates = c.cell.firstIndex(of: "[").map { String(c.cell[$0...]) } ?? c.cell
            return "<span class=\"cell\">\(h(coordinates)) \(RunReportPage.fixed(c.value))</span>"
        }.joined(separator: " ")
    }

    /// The metric's label as the kind presents it (the group's cells share a kind).
    func label(_ metric: String, stage group: String) -> String {
        let base = group.firstIndex(of: "[").map { String(group[..<$0]) } ?? group
        let kind = run.stages.first { $0.baseName == base }?.kind
        return kind.flatMap { presentations[$0]?.label(metric) } ?? metric
    }

    /// Cells as dots, the mean with its interval, every gate level and the baseline mean.
    func chart(_ m: AggregateMetric) -> SVGDocument {
        let cells = m.verdicts.compactMap(\.cells).first ?? []
        // A Wilson interval, when a gate asked for one, says more about a proportion than Student's t.
        let intervals = m.verdicts.compactMap { $0.statistics?.interval }
        let interval = intervals.first { $0.method.hasPrefix("Wilson") } ?? intervals.first
        var levels: [ReplicatePlot.Level] = []
        var baselineMean: Double?
        for v in m.verdicts {
            guard let s = v.statistics else { continue }
            if let b = s.baseline {
                baselineMean = b.mean
                levels.append(.init(label: "baseline − \(_num(b.margin))", value: b.mean - b.margin))
                continue
            }
            // A bound on the spread (std) is not on the values' scale: the table shows it, the chart does not.
            guard s.statistic != "std" else { continue }
            if let lo = s.minimum { levels.append(.init(label: "\(s.statistic) ≥ \(_num(lo))", value: lo)) }
            if let hi = s.maximum { levels.append(.init(label: "\(s.statistic) ≤ \(_num(hi))", value: hi)) }
        }
        let plot = ReplicatePlot(title: "\(label(m.metric, stage: m.group)) over \(m.group)",
                                 values: cells.map { .init(label: $0.cell, value: $0.value) },
                                 interval: interval.map { ($0.method, $0.low, $0.high) }, levels: levels, baselineMean: baselineMean)
        return plot.render()
    }
}
