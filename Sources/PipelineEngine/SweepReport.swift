import Foundation
import SVGPlotting

/// One sweep of a run: the stages that share the same sweep dimensions (a swept stage and everything
/// downstream of it), joined by cell, shown as a table, a heat map per quality and cost metric (rows: the
/// first dimension; columns: the others combined) and trade-off plots of each quality metric against each cost
/// metric with their Pareto front. Which metrics are qualities and costs is the kinds' business.
struct SweepReport {
    /// The sweep's dimensions, sorted.
    var dimensions: [String]
    /// Cells in run order: coordinates (display text) by dimension.
    var cells: [[String: String]]
    /// Columns: (stage base name, metric, readable label, role).
    var columns: [(stage: String, metric: String, label: String, role: Role)]
    /// `values[cell][column]`.
    var values: [[Double?]]
    /// Wall time and status per cell and stage base name.
    var statuses: [[String: StageStatus]]

    enum Role { case quality, cost, other }

    /// The sweeps of a run (none for a run without matrix stages).
    static func groups(_ run: RunRecord, presentations: [String: MetricPresentation]) -> [SweepReport] {
        let swept = run.stages.filter { !$0.cell.isEmpty }
        var byDimensions: [[String]: [StageRunRecord]] = [:]
        var order: [[String]] = []
        for stage in swept {
            let dims = stage.cell.keys.sorted()
            if byDimensions[dims] == nil { order.append(dims) }
            byDimensions[dims, default: []].append(stage)
        }
        return order.map { dims in
            let stages = byDimensions[dims]!
            func coordinates(_ s: StageRunRecord) -> [String: String] { s.cell.mapValues(\.displayText) }
            var cells: [[String: String]] = []
            for s in stages where !cells.contains(coordinates(s)) { cells.append(coordinates(s)) }
            var bases: [String] = []
            for s in stages where !bases.contains(s.baseName) { bases.append(s.baseName) }
            var columns: [(stage: String, metric: String, label: String, role: Role)] = []
            for base in bases {
                guard let kind = stages.first(where: { $0.baseName == base })?.kind else { continue }
                let reported = Set(stages.filter { $0.baseName == base }.flatMap { $0.metrics.keys })
                if let p = presentations[kind] {
                    for m in p.quality where reported.contains(m) { columns.append((base, m, p.label(m), .quality)) }
                    for m in p.cost where reported.contains(m) { columns.append((base, m, p.label(m), .cost)) }
                    for m in p.headline where reported.contains(m) && !p.quality.contains(m) && !p.cost.contains(m) {
                        columns.append((base, m, p.label(m), .other))
                    }
                } else {
                    for m in reported.sorted() { columns.append((base, m, m, .other)) }
                }
            }
            let values = cells.map { cell in
                columns.map { column in
                    stages.first { $0.baseName == column.0 && coordinates($0) == cell }?.metrics[column.1]
                }
            }
            let statuses = cells.map { cell in
                Dictionary(stages.filter { coordinates($0) == cell }.map { ($0.baseName, $0.status) }, uniquingKeysWith: { a, _ in a })
            }
            // The table shows the qualities and costs when the kinds declare any (every headline metric of
            // every cell is in the metrics section), else the headline metrics.
            let compared = columns.filter { $0.role != .other }
            if !compared.isEmpty && compared.count < columns.count {
                let keep = columns.indices.filter { columns[$0].role != .other }
                return SweepReport(dimensions: dims, cells: cells, columns: keep.map { columns[$0] },
                                   values: values.map { row in keep.map { row[$0] } }, statuses: statuses)
            }
            return SweepReport(dimensions: dims, cells: cells, columns: columns, values: values, statuses: statuses)
        }
    }

    func cellLabel(_ cell: [String: String]) -> String { dimensions.map { cell[$0] ?? "?" }.joined(separator: " · ") }

    func html() -> String {
        var out = "<h3>\(h(dimensions.joined(separator: " × "))) (\(cells.count) cells)</h3>\n"
        let header = dimensions.map { "<th>\(h($0))</th>" }.joined()
            + columns.map { "<th>\(h($0.label))<br><span class=\"reason\">\(h($0.stage))</span></th>" }.joined()
        var rows: [String] = []
        for (i, cell) in cells.enumerated() {
            let failed = statuses[i].values.contains { $0.isUnfinished }
            let coords = dimensions.map { "<td>\(h(cell[$0] ?? ""))</td>" }.joined()
            let metrics = values[i].map { "<td class=\"num\">\($0.map { h(SweepReport.format($0)) } ?? "—")</td>" }.joined()
            rows.append("<tr\(failed ? " class=\"fail\"" : "")>\(coords)\(metrics)</tr>")
        }
        out += "<table><thead><tr>\(header)</tr></thead>\n\(rows.joined(separator: "\n"))\n</table>\n<div class=\"grid\">\n"
        for chart in charts() { out += "<figure>\(chart.markup)</figure>\n" }
        return out + "</div>\n"
    }

    /// A heat map per quality and cost metric, and trade-off plots. The first dimension gives the rows; the
    /// others the columns, one per combination in cell order (labelled "1 · 2017" for truncation · seed), so a
    /// sweep of three or more dimensions still reads as one grid per metric.
    func charts() -> [SVGDocument] {
        var charts: [SVGDocument] = []
        if let rowDim = dimensions.first {
            let columnDims = Array(dimensions.dropFirst())
            func columnKey(_ cell: [String: String]) -> String { columnDims.map { cell[$0] ?? "?" }.joined(separator: " · ") }
            var rowLabels: [String] = [], colLabels: [String] = []
            for cell in cells {
                if let r = cell[rowDim], !rowLabels.contains(r) { rowLabels.append(r) }
                let c = columnKey(cell)
                if !colLabels.contains(c) { colLabels.append(c) }
            }
            for (index, column) in columns.enumerated() where column.role != .other {
                var grid = Array(repeating: [Double?](repeating: nil, count: colLabels.count), count: rowLabels.count)
                for (i, cell) in cells.enumerated() {
                    guard let r = rowLabels.firstIndex(of: cell[rowDim] ?? ""),
                          let c = colLabels.firstIndex(of: columnKey(cell)) else { continue }
                    grid[r][c] = values[i][index]
                }
                var map = HeatMap(title: "\(column.label) (\(column.stage))", rowTitle: rowDim,
                                  columnTitle: columnDims.joined(separator: " · "),
                                  rowLabels: rowLabels, columnLabels: colLabels, values: grid)
                map.cellText = { _, _, v in [SweepReport.format(v)] }
                // Dark is good: invert the scale for costs.
                if column.role == .cost {
                    let finite = grid.flatMap { $0.compactMap { $0 } }
                    let lo = finite.min() ?? 0, hi = finite.max() ?? 1
                    map.intensity = { _, _, v in hi > lo ? (hi - v) / (hi - lo) : 0.5 }
                }
                charts.append(map.render())
            }
        }
        let qualities = columns.enumerated().filter { $0.element.role == .quality }
        let costs = columns.enumerated().filter { $0.element.role == .cost }
        for q in qualities {
            for c in costs {
                let points = cells.indices.compactMap { i -> ScatterPlot.Point? in
                    guard let x = values[i][c.offset], let y = values[i][q.offset] else { return nil }
                    return ScatterPlot.Point(label: cellLabel(cells[i]), x: x, y: y)
                }
                guard points.count >= 2 else { continue }
                var plot = ScatterPlot(title: "\(q.element.label) against \(c.element.label)",
                                       xLabel: "\(c.element.label) (\(c.element.stage))", yLabel: q.element.label, points: points)
                let xs = points.map(\.x)
                plot.logarithmicX = (xs.min() ?? 0) > 0 && (xs.max() ?? 0) / (xs.min() ?? 1) > 20
                charts.append(plot.render())
            }
        }
        return charts
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) >= 1 { return PlotAxis.format(value) }
        return abs(value) >= 10 ? String(format: "%.1f", value) : String(format: "%.3f", value)
    }
}
