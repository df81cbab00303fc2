import Foundation

/// `masknet metrics diff A B --html`: the metrics of two runs side by side on one self-contained page,
/// stages in the first run's order, each stage's headline metrics first, changes signed.
public enum MetricsDiffPage {
    /// The page.
    public static func html(_ a: RunRecord, _ b: RunRecord, presentations: [String: MetricPresentation]) -> String {
        var stageOrder: [String] = []
        var kinds: [String: String] = [:]
        for s in a.stages + b.stages where !stageOrder.contains(s.name) { stageOrder.append(s.name); kinds[s.name] = s.kind }
        func metrics(_ run: RunRecord, _ stage: String) -> [String: Double] { run.stages.first { $0.name == stage }?.metrics ?? [:] }
        var sections: [String] = []
        for stage in stageOrder {
            let (x, y) = (metrics(a, stage), metrics(b, stage))
            let names = Set(x.keys).union(y.keys)
            guard !names.isEmpty else { continue }
            let presentation = kinds[stage].flatMap { presentations[$0] }
            let headline = presentation?.headline.filter(names.contains) ?? []
            let ordered = headline + names.sorted().filter { !headline.contains($0) }
            let rows = ordered.map { name -> String in
                let change: String
                if let u = x[name], let v = y[name] { change = u == v ? "=" : (v > u ? "+" : "") + _num(v - u) } else { change = x[name] == nil ? "new" : "removed" }
                let label = presentation?.label(name) ?? name
                return "<tr\(headline.contains(name) ? " class=\"headline\"" : "")><td>\(h(label))</td><td class=\"num\">\(x[name].map { h(_num($0)) } ?? "—")</td><td class=\"num\">\(y[name].map { h(_num($0)) } ?? "—")</td><td class=\"num\">\(h(change))</td></tr>"
            }
            sections.append("<h3>\(h(stage))</h3>\n<table><thead><tr><th>metric</th><th>\(h(a.id))</th><th>\(h(b.id))</th><th>change</th></tr></thead>\n\(rows.joined(separator: "\n"))\n</table>")
        }
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
        <title>metrics: \(h(a.id)) against \(h(b.id))</title>
        <style>\(RunReportHTML.style) tr.headline td{font-weight:600}</style>
        </head>
        <body>
        <h1>Metrics of two runs</h1>
        <p class="meta">\(h(a.pipeline)) run <code>\(h(a.id))</code> (\(h(a.status.rawValue))) against \(h(b.pipeline)) run <code>\(h(b.id))</code> (\(h(b.status.rawValue))); headline metrics in bold, change is second minus first.</p>
        \(sections.joined(separator: "\n"))
        </body>
        </html>

        """
    }
}
