import Foundation

/// A table of values as coloured cells with the value written in each (e.g. backbone × truncation →
/// mAP, or a confusion matrix with counts and row percentages).
public struct HeatMap: Sendable {
    public var title: String
    public var rowTitle: String, columnTitle: String
    public var rowLabels: [String], columnLabels: [String]
    /// `values[row][column]`; nil cells are drawn blank.
    public var values: [[Double?]]
    /// The text of a cell (default: the value in short form).
    public var cellText: @Sendable (Int, Int, Double) -> [String] = { _, _, v in [PlotAxis.format(v)] }
    /// The colour scale's range, else the values' range. `intensity` maps a cell to [0, 1] when given.
    public var range: ClosedRange<Double>?
    public var intensity: (@Sendable (Int, Int, Double) -> Double)?

    public init(title: String, rowTitle: String, columnTitle: String, rowLabels: [String], columnLabels: [String],
                values: [[Double?]]) {
        precondition(values.count == rowLabels.count && values.allSatisfy { $0.count == columnLabels.count },
                     "heat map values are \(values.count)×\(values.first?.count ?? 0), labels \(rowLabels.count)×\(columnLabels.count)")
        self.title = title; self.rowTitle = rowTitle; self.columnTitle = columnTitle
        self.rowLabels = rowLabels; self.columnLabels = columnLabels; self.values = values
    }

    /// The chart as SVG; cells are at least 84×44 so two lines of text fit, and wider when a column label
    /// (a combination such as "1 · 2017" in a sweep of three dimensions) needs it.
    public func render(cellWidth minimumCellWidth: Double = 84, cellHeight: Double = 44) -> SVGDocument {
        let cellWidth = max(minimumCellWidth, Double(columnLabels.map(\.count).max() ?? 0) * 7.5 + 14)
        let labelWidth = max(70, Double(rowLabels.map(\.count).max() ?? 0) * 7.5 + 16)
        let left = 28 + labelWidth, top = 58.0
        let width = max(left + Double(columnLabels.count) * cellWidth + 16, Double(title.count) * 8.6 + 24)
        let height = top + Double(rowLabels.count) * cellHeight + 16
        var svg = SVGDocument(width: width, height: height, title: title)
        svg.text(title, x: 12, y: 18, size: 14, weight: "600")
        svg.text(columnTitle, x: left + Double(columnLabels.count) * cellWidth / 2, y: 36, size: 12, anchor: "middle", fill: "#555")
        svg.text(rowTitle, x: 14, y: top + Double(rowLabels.count) * cellHeight / 2, size: 12, anchor: "middle", fill: "#555", rotate: -90)
        let finite = values.flatMap { $0.compactMap { $0 } }.filter(\.isFinite)
        let lo = range?.lowerBound ?? finite.min() ?? 0, hi = range?.upperBound ?? finite.max() ?? 1
        for (c, label) in columnLabels.enumerated() {
            svg.text(label, x: left + (Double(c) + 0.5) * cellWidth, y: top - 8, size: 12, anchor: "middle", weight: "600")
        }
        for (r, label) in rowLabels.enumerated() {
            let y = top + Double(r) * cellHeight
            svg.text(label, x: left - 8, y: y + cellHeight / 2 + 4, size: 12, anchor: "end", weight: "600")
            for c in columnLabels.indices {
                let x = left + Double(c) * cellWidth
                guard let value = values[r][c], value.isFinite else {
                    svg.rect(x, y, cellWidth, cellHeight, fill: "#fafafa", stroke: "#ddd")
                    svg.text("—", x: x + cellWidth / 2, y: y + cellHeight / 2 + 4, anchor: "middle", fill: "#999")
                    continue
                }
                let t = intensity?(r, c, value) ?? (hi > lo ? (value - lo) / (hi - lo) : 0.5)
                let lines = cellText(r, c, value)
                svg.rect(x, y, cellWidth, cellHeight, fill: PlotColors.sequential(t), stroke: "white",
                         tooltip: "\(label), \(columnLabels[c]): \(lines.joined(separator: " "))")
                let ink = PlotColors.needsLightText(t) ? "white" : "#111"
                let first = y + cellHeight / 2 + (lines.count > 1 ? -2 : 4.5)
                for (i, line) in lines.enumerated() {
                    svg.text(line, x: x + cellWidth / 2, y: first + Double(i) * 15, size: i == 0 ? 13.5 : 11,
                             anchor: "middle", fill: ink, weight: i == 0 ? "600" : nil)
                }
            }
        }
        return svg
    }
}
