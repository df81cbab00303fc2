import Foundation
import SVGPlotting

/// The HTML of `report.html`: sections in the order a reader asks (did it pass? what ran? how do the
/// sweep's cells compare? the numbers? the pictures?), styled inline and locked down by a content security policy that forbids every
/// request, so the page works offline and as a CI attachment.
struct RunReportHTML {
    var run: RunRecord
    var presentations: [String: MetricPresentation]
    var figures: [RunReportPage.Figure]
    var sweeps: [SweepReport]

    func page() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(h(run.pipeline)) · run \(h(run.id))</title>
        <style>\(Self.style)</style>
        </head>
        <body>
        \(header())
        \(verdictSection())
        \(stagesSection())
        \(sweepSection())
        \(metricsSection())
        \(figureSection())
        </body>
        </html>

        """
    }

    static let style = """
    body{font:15px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",Arial,sans-serif;color:#1d1d1f;margin:0 auto;max-width:1180px;padding:18px 28px 60px}
    h1{font-size:24px;margin:8px 0 2px}h2{font-size:19px;margin:30px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
    h3{font-size:16px;margin:20px 0 8px}.meta{color:#555;margin:0 0 6px}
    table{border-collapse:collapse;margin:6px 0 10px}th,td{padding:5px 10px;border-bottom:1px solid #e5e5e5;text-align:left;vertical-align:top}
    th{background:#f6f6f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
    .badge{display:inline-block;padding:2px 10px;border-radius:11px;font-weight:600;font-size:13px}
    .pass{background:#e3f4e8;color:#12602c}.fail{background:#fde7e7;color:#9b1c1c}.neutral{background:#eef0f3;color:#444}
    tr.pass td{background:#f1faf3}tr.fail td{background:#fdf1f1}
    .summary{font-size:18px;font-weight:600;padding:10px 14px;border-radius:8px;margin:8px 0}
    details{margin:6px 0 14px}summary{cursor:pointer;color:#0b57a4}
    figure{display:inline-block;margin:8px 14px 14px 0;vertical-align:top;max-width:100%}
    figure svg,figure img{max-width:100%;height:auto;border:1px solid #eee;background:white}
    figure img.raster{image-rendering:pixelated;width:384px;max-width:100%}
    figcaption{font-size:13px;color:#555}.reason{color:#555;font-size:13px}
    .grid{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:flex-start}
    .nowrap{white-space:nowrap}.cell{display:inline-block;white-space:nowrap;font-size:12.5px;font-variant-numeric:tabular-nums;background:#f3f5f8;border-radius:4px;padding:0 5px;margin:1px 2px}
    """

    func header() -> String {
        let status = run.status == .succeeded ? "pass" : (run.status == .running ? "neutral" : "fail")
        var facts = ["started \(run.startedAt)"]
        if let end = run.finishedAt { facts.append("finished \(end)") }
        facts.append("seed \(run.seed)")
        if !run.overrides.isEmpty { facts.append("overrides: \(run.overrides.joined(separator: " "))") }
        var machine: [String] = []
        if let cpu = run.environment["cpu"] { machine.append(cpu) }
        if let cores = run.environment["cpu_count"] { machine.append("\(cores) cores") }
        if let features = run.environment["cpu_features"], !features.isEmpty { machine.append(features) }
        if let threads = run.environment["worker_threads"] { machine.append("\(threads) worker threads") }
        // The GEMM that computed the numbers (masknet's own kernels, or OpenBLAS when selected); OpenBLAS's
        // kernels only matter when it is the GEMM, or for runs recorded before masknet had its own.
        if let gemm = run.environment["gemm"] {
            machine.append("GEMM: \(gemm)\(run.environment["gemm_machine_independent"] == "true" ? " (same numbers on every CPU)" : "")")
        } else if let blas = run.environment["blas"] {
            machine.append([blas, run.environment["blas_kernels"]].compactMap { $0 }.joined(separator: " "))
        }
        return """
        <header>
        <h1>\(h(run.pipeline))</h1>
        <p class="meta">Run <code>\(h(run.id))</code> · <span class="badge \(status)">\(h(run.status.rawValue))</span> · \(h(facts.joined(separator: " · ")))</p>
        \(machine.isEmpty ? "" : "<p class=\"meta\">\(h(machine.joined(separator: " · ")))</p>")
        </header>
        """
    }

    /// Gates first. The table groups rows by stage (`tbody`), so replicated cells and an aggregate row
    /// can join a gate's group later.
    func verdictSection() -> String {
        let verdicts = run.verdicts
        guard !verdicts.isEmpty else {
            return "<section id=\"verdict\"><h2>Verdict</h2><p class=\"summary neutral\">No gates in this pipeline; status \(h(run.status.rawValue)).</p></section>"
        }
        let failed = verdicts.filter { !$0.passed }.count
        let headline = failed == 0 ? "All \(verdicts.count) gates pass" : "\(failed) of \(verdicts.count) gates fail"
        var rows: [String] = []
        // Reference and source columns only when some gate has one (the paper pipelines' gates do).
        let referenced = run.stages.contains { $0.gates.contains { $0.reference != nil || $0.source != nil } }
        for stage in run.stages where !stage.gates.isEmpty {
            let presentation = presentations[stage.kind]
            rows.append("<tbody data-stage=\"\(h(stage.name))\">")
            for gate in stage.gates {
                let reference = gate.reference.map { _num($0) } ?? "—"
                let verdict = gate.passed ? "pass" : "FAIL"
                rows.append("""
                <tr class="\(gate.passed ? "pass" : "fail")"><td>\(h(stage.name))</td><td>\(h(presentation?.label(gate.metric) ?? gate.metric))</td>\
                <td class="num">\(gate.value.map { RunReportPage.fixed($0) } ?? "missing")</td><td>\(h(gate.condition))</td>\
                \(referenced ? "<td class=\"num\">\(h(reference))</td><td>\(h(gate.source ?? ""))</td>" : "")\
                <td><span class="badge \(gate.passed ? "pass" : "fail")">\(verdict)</span>\(gate.passed ? "" : " <span class=\"reason\">\(h(gate.message))</span>")</td></tr>
                """)
            }
            rows.append("</tbody>")
        }
        let cellTable = rows.isEmpty ? "" : """
        <table class="verdict"><thead><tr><th>stage</th><th>metric</th><th>value</th><th>condition</th>\(referenced ? "<th>reference</th><th>source</th>" : "")<th>verdict</th></tr></thead>
        \(rows.joined(separator: "\n"))
        </table>
        """
        return """
        <section id="verdict"><h2>Verdict</h2>
        <p class="summary \(failed == 0 ? "pass" : "fail")">\(headline)</p>
        \(cellTable)
        \(aggregateSection())
        </section>
        """
    }

    func stagesSection() -> String {
        let batch = run.stages.contains { $0.placement != nil }
        var rows: [String] = []
        for stage in run.stages {
            let status: String
            switch stage.status {
            case .computed, .cached: status = "pass"
            case .failed, .interrupted: status = "fail"
            default: status = "neutral"
            }
            let log = stage.log.map { "<a href=\"\(h($0))\">log</a>" } ?? ""
            rows.append("""
            <tr><td>\(h(stage.name))</td><td>\(h(stage.kind))</td><td><span class="badge \(status)">\(h(stage.status.rawValue))</span></td>\
            <td class="reason">\(h(stage.whyText))</td><td class="num">\(RunReportPage.wallTime(stage.wallSeconds))</td>\
            <td class="num">\(RunReportPage.memory(stage.peakMemoryBytes))</td>\(batch ? "<td>\(placementCell(stage.placement))</td>" : "")<td>\(log)</td></tr>
            """)
        }
        let total = run.stages.compactMap { $0.status == .computed ? $0.wallSeconds : nil }.reduce(0, +)
        return """
        <section id="stages"><h2>Stages</h2>
        <p class="meta">\(run.stages.filter { $0.status == .computed }.count) computed (\(RunReportPage.wallTime(total)) of stage time), \(run.stages.filter { $0.status == .cached }.count) from the cache. Wall time of cache hits is that of the original computation.\(run.executor == nil || run.executor == "local" ? " Stages share one process under the local executor, so peak memory is the process's high-water mark when each stage ended (<code>--executor process</code> measures each stage alone)." : "")</p>
        <table><thead><tr><th>stage</th><th>kind</th><th>status</th><th>why</th><th>wall time</th><th>peak memory</th>\(batch ? "<th>batch job</th>" : "")<th></th></tr></thead>
        \(rows.joined(separator: "\n"))
        </table></section>
        """
    }

    /// Job, node, queue wait, the batch system's elapsed and MaxRSS (and their source), with the job's log linked.
    func placementCell(_ placement: StagePlacement?) -> String {
        guard let placement else { return "—" }
        let log = placement.log.map { " <a href=\"\(h($0))\">job log</a>" } ?? ""
        return h(placement.summary) + (placement.source.map { " <span class=\"meta\">(\(h($0)))</span>" } ?? "") + log
    }

    func metricsSection() -> String {
        var parts: [String] = []
        for stage in run.stages where !stage.metrics.isEmpty {
            let presentation = presentations[stage.kind]
            // Interval and gate columns only for stages that have some.
            let columns = MetricColumns(
                interval: presentation?.intervals.contains { stage.metrics[$0.value.lower] != nil && stage.metrics[$0.value.upper] != nil } ?? false,
                gate: !stage.gates.isEmpty)
            let header = "<thead><tr><th>metric</th><th>value</th>\(columns.interval ? "<th>interval</th>" : "")\(columns.gate ? "<th>gate</th>" : "")</tr></thead>"
            let first = RunReportPage.headline(stage, presentation)
            var rows: [String] = []
            for metric in first { rows.append(metricRow(stage, metric, presentation, columns)) }
            var section = "<h3>\(h(stage.name)) <span class=\"reason\">\(h(stage.kind))</span></h3>\n"
            if !rows.isEmpty {
                section += "<table>\(header)\n\(rows.joined(separator: "\n"))\n</table>\n"
            }
            let rest = stage.metrics.keys.sorted().filter { !first.contains($0) }
            if !rest.isEmpty {
                let restRows = rest.map { metricRow(stage, $0, presentation, columns) }.joined(separator: "\n")
                section += "<details><summary>\(rest.count) more metrics</summary>\n<table>\(header)\n\(restRows)\n</table></details>\n"
            }
            parts.append(section)
        }
        guard !parts.isEmpty else { return "" }
        return "<section id=\"metrics\"><h2>Metrics</h2>\n\(parts.joined(separator: "\n"))</section>"
    }

    /// Which optional columns a stage's metric tables show.
    struct MetricColumns { var interval: Bool, gate: Bool }

    /// A metric's row: its label and key, the value to four significant digits (the exact value on hover),
    /// and, when the table has those columns, its interval and its gate.
    func metricRow(_ stage: StageRunRecord, _ metric: String, _ presentation: MetricPresentation?, _ columns: MetricColumns) -> String {
        let value = stage.metrics[metric]!
        var interval = ""
        if let i = presentation?.intervals[metric], let lo = stage.metrics[i.lower], let hi = stage.metrics[i.upper] {
            interval = "\(RunReportPage.fixed(lo)) – \(RunReportPage.fixed(hi)) <span class=\"reason\">(\(h(i.kind)))</span>"
        }
        let gate = stage.gates.first { $0.metric == metric }
            .map { "<span class=\"badge \($0.passed ? "pass" : "fail")\">\($0.passed ? "pass" : "FAIL")</span> \(h($0.condition))" } ?? ""
        let name = presentation?.label(metric) ?? metric
        let key = name == metric ? "" : " <span class=\"reason\">\(h(metric))</span>"
        return "<tr><td>\(h(name))\(key)</td><td class=\"num\" title=\"\(h(_num(value)))\">\(h(_num4(value)))</td>"
            + (columns.interval ? "<td>\(interval)</td>" : "") + (columns.gate ? "<td>\(gate)</td>" : "") + "</tr>"
    }

    func sweepSection() -> String {
        guard !sweeps.isEmpty else { return "" }
        return "<section id=\"sweeps\"><h2>Sweeps</h2>\n" + sweeps.map { $0.html() }.joined(separator: "\n") + "</section>"
    }

    func figureSection() -> String {
        guard !figures.isEmpty else { return "" }
        var parts: [String] = []
        var currentStage: String?
        for figure in figures {
            if figure.stage != currentStage {
                if currentStage != nil { parts.append("</div>") }
                parts.append("<h3>\(h(figure.stage))</h3>\n<div class=\"grid\">")
                currentStage = figure.stage
            }
            switch figure.content {
            case .svg(let markup):
                parts.append("<figure>\(markup)<figcaption>\(h(figure.label))</figcaption></figure>")
            case .png(let data):
                parts.append("<figure><img class=\"raster\" alt=\"\(h(figure.label))\" src=\"data:image/png;base64,\(data.base64EncodedString())\"><figcaption>\(h(figure.label))</figcaption></figure>")
            case .tooLarge(let url, let size):
                parts.append("<p class=\"reason\">\(h(figure.label)): \(size >> 20) MiB, too large to embed; see \(h(url.path))</p>")
            }
        }
        parts.append("</div>")
        return "<section id=\"figures\"><h2>Figures</h2>\n\(parts.joined(separator: "\n"))\n</section>"
    }
}

/// Escapes text for HTML content and attribute values.
func h(_ text: String) -> String { SVGDocument.escape(text) }
