import Foundation

/// Estimates with confidence intervals as dots and whiskers on a shared 0…1 scale, one row per estimate
/// (e.g. per-class sensitivity and specificity with Wilson intervals).
public struct IntervalPlot: Sendable {
    /// One estimate.
    public struct Row: Sendable {
        public var label: String, group: String
        public var value: Double, lower: Double, upper: Double
        public init(label: String, group: String, value: Double, lower: Double, upper: Double) {
            self.label = label; self.group = group; self.value = value; self.lower = lower; self.upper = upper
        }
    }

    public var title: String
    public var rows: [Row]
    public var range: ClosedRange<Double> = 0...1

    public init(title: String, rows: [Row]) { self.title = title; self.rows = rows }

    /// The chart as SVG; groups share a colour (shown in a legend). Consecutive rows with the same label
    /// (a class's sensitivity and specificity) are one block: the label is written once, centred on it, and
    /// a faint rule separates blocks.
    public func render(width: Double = 520) -> SVGDocument {
        let rowHeight = 22.0, top = 34.0, left = 120.0, right = width - 70
        let height = top + Double(rows.count) * rowHeight + 40
        var svg = SVGDocument(width: width, height: height, title: title)
        svg.text(title, x: 12, y: 18, size: 14, weight: "600")
        let axis = PlotAxis(lower: range.lowerBound, upper: range.upperBound, from: left, to: right)
        let bottom = top + Double(rows.count) * rowHeight
        for tick in axis.ticks {
            let x = axis.position(tick)
            svg.line(x, top, x, bottom, stroke: "#e6e6e6")
            svg.text(axis.label(tick), x: x, y: bottom + 15, size: 11, anchor: "middle", fill: "#555")
        }
        var groups: [String] = []
        for row in rows where !groups.contains(row.group) { groups.append(row.group) }
        for (i, row) in rows.enumerated() {
            let y = top + (Double(i) + 0.5) * rowHeight
            let color = PlotColors.series[(groups.firstIndex(of: row.group) ?? 0) % PlotColors.series.count]
            if i == 0 || rows[i - 1].label != row.label {
                let span = rows[i...].prefix { $0.label == row.label }.count
                svg.text(row.label, x: left - 8, y: y + Double(span - 1) * rowHeight / 2 + 4, size: 11.5, anchor: "end", weight: "600")
                if i > 0 { svg.line(left - 100, y - rowHeight / 2, right, y - rowHeight / 2, stroke: "#eeeeee") }
            }
            svg.line(axis.position(row.lower), y, axis.position(row.upper), y, stroke: color, width: 2)
            svg.line(axis.position(row.lower), y - 4, axis.position(row.lower), y + 4, stroke: color, width: 1.5)
            svg.line(axis.position(row.upper), y - 4, axis.position(row.upper), y + 4, stroke: color, width: 1.5)
            svg.circle(axis.position(row.value), y, radius: 4, fill: color,
                       tooltip: "\(row.label): \(PlotAxis.format(row.value)) [\(PlotAxis.format(row.lower)), \(PlotAxis.format(row.upper))]")
            svg.text(String(format: "%.2f", row.value), x: right + 8, y: y + 4, size: 11, fill: "#333")
        }
        for (i, group) in groups.enumerated() {
            let x = left + Double(i) * 110
            svg.circle(x, bottom + 30, radius: 4, fill: PlotColors.series[i % PlotColors.series.count])
            svg.text(group, x: x + 8, y: bottom + 34, size: 11.5)
        }
        return svg
    }
}
