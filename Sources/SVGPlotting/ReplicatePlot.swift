import Foundation

/// One metric of a replicated (or swept) stage on a value axis: every cell's value as a dot, the mean
/// with its 95 % interval below them, the gates' levels as vertical lines and the baseline's mean, so a
/// reader sees at once how far the replicates spread and how close they come to a gate.
public struct ReplicatePlot: Sendable {
    /// One cell's value; `label` is its tooltip (the cell name).
    public struct Value: Sendable {
        public var label: String, value: Double
        public init(label: String, value: Double) { self.label = label; self.value = value }
    }

    /// A gate level (`mean ≥ 0.45`), drawn as a dashed red line.
    public struct Level: Sendable {
        public var label: String, value: Double
        public init(label: String, value: Double) { self.label = label; self.value = value }
    }

    public var title: String
    public var values: [Value]
    /// The 95 % interval of the cells and its method (`Student t 95 %`, `Wilson 95 %`).
    public var interval: (method: String, low: Double, high: Double)?
    public var levels: [Level]
    /// The baseline's mean, drawn as a grey dashed line.
    public var baselineMean: Double?

    public init(title: String, values: [Value], interval: (method: String, low: Double, high: Double)? = nil,
                levels: [Level] = [], baselineMean: Double? = nil) {
        self.title = title; self.values = values; self.interval = interval; self.levels = levels; self.baselineMean = baselineMean
    }

    /// The mean of the finite values (nil when there are none).
    public var mean: Double? {
        let finite = values.map(\.value).filter(\.isFinite)
        return finite.isEmpty ? nil : finite.reduce(0, +) / Double(finite.count)
    }

    /// The chart as SVG.
    public func render(width: Double = 520) -> SVGDocument {
        let left = 112.0, right = width - 24
        // Level labels sit in rows above the plot, one row per label that would overlap the previous ones.
        let levelMarks = levels.map { ($0.label, $0.value, "#C0392B") } + (baselineMean.map { [("baseline \(PlotAxis.format($0))", $0, "#555")] } ?? [])
        let finite = values.map(\.value).filter(\.isFinite)
        var covered = finite + levelMarks.map(\.1)
        if let interval { covered += [interval.low, interval.high].filter(\.isFinite) }
        let span = (covered.max() ?? 1) - (covered.min() ?? 0)
        let padding = span > 0 ? [(covered.min() ?? 0) - 0.08 * span, (covered.max() ?? 0) + 0.08 * span] : []
        let axis = PlotAxis(covering: covered + padding, from: left, to: right)
        // A label may share a row with labels it does not touch, and must not sit on the line of a
        // label in a row above (lines run down from their labels to the axis).
        var placed: [(label: String, x: Double, row: Int, color: String, extent: ClosedRange<Double>)] = []
        for (label, value, color) in levelMarks.sorted(by: { $0.1 < $1.1 }) {
            let x = axis.position(value)
            let half = (Double(label.count) * 6.2 + 8) / 2
            let extent = (x - half)...(x + half)
            func overlapsLabel(_ row: Int) -> Bool { placed.contains { $0.row == row && $0.extent.overlaps(extent) } }
            func crossesLine(_ row: Int) -> Bool {
                placed.contains { ($0.row < row && extent.contains($0.x)) || ($0.row > row && $0.extent.contains(x)) }
            }
            // The first row free of both; else (lines too dense) the first row where the labels at least do not overlap.
            let rows = 0...placed.count
            let row = rows.first { !overlapsLabel($0) && !crossesLine($0) } ?? rows.first { !overlapsLabel($0) }!
            placed.append((label, x, row, color, extent))
        }
        let labelRowCount = (placed.map(\.row).max() ?? -1) + 1
        let top = 30.0 + Double(labelRowCount) * 15
        let cellsY = top + 22, meanY = top + 58, bottom = top + 80
        var svg = SVGDocument(width: width, height: bottom + 44, title: title)
        svg.text(title, x: 12, y: 18, size: 14, weight: "600")
        for tick in axis.ticks {
            let x = axis.position(tick)
            svg.line(x, top, x, bottom, stroke: "#ececec")
            svg.text(axis.label(tick), x: x, y: bottom + 15, size: 11, anchor: "middle", fill: "#555")
        }
        svg.line(left, bottom, right, bottom, stroke: "#999")
        svg.text("cells (\(finite.count))", x: left - 10, y: cellsY + 4, size: 11.5, anchor: "end")
        svg.text("mean, 95 %", x: left - 10, y: meanY + 4, size: 11.5, anchor: "end")
        for mark in placed {
            let labelY = 30.0 + Double(mark.row) * 15 + 10
            svg.line(mark.x, labelY + 3, mark.x, bottom, stroke: mark.color, width: 1.5, dash: "5 3")
            svg.text(mark.label, x: mark.x, y: labelY, size: 11, anchor: "middle", fill: mark.color)
        }
        // Equal values would hide each other: a dot that lands on an earlier one moves up or down a step.
        var taken: [(x: Double, y: Double)] = []
        for v in values where v.value.isFinite {
            let x = axis.position(v.value)
            var y = cellsY, step = 0
            while taken.contains(where: { abs($0.x - x) < 7 && abs($0.y - y) < 7 }) {
                step += 1
                y = cellsY + Double((step + 1) / 2) * 7 * (step % 2 == 1 ? -1 : 1)
            }
            taken.append((x, y))
            svg.circle(x, y, radius: 4.5, fill: PlotColors.series[0], stroke: "white", tooltip: "\(v.label): \(PlotAxis.format(v.value))")
        }
        if let interval, interval.low.isFinite, interval.high.isFinite {
            let (a, b) = (axis.position(interval.low), axis.position(interval.high))
            svg.line(a, meanY, b, meanY, stroke: PlotColors.series[1], width: 2.5)
            svg.line(a, meanY - 6, a, meanY + 6, stroke: PlotColors.series[1], width: 2)
            svg.line(b, meanY - 6, b, meanY + 6, stroke: PlotColors.series[1], width: 2)
        }
        if let mean {
            let x = axis.position(mean)
            svg.append("<path d=\"M\(SVGDocument.n(x)) \(SVGDocument.n(meanY - 7))l7 7-7 7-7-7z\" fill=\"\(PlotColors.series[1])\"><title>\(SVGDocument.escape("mean \(PlotAxis.format(mean))" + (interval.map { ", \($0.method) [\(PlotAxis.format($0.low)), \(PlotAxis.format($0.high))]" } ?? "")))</title></path>")
        }
        // Legend: entries side by side, each as wide as its text.
        let legendY = bottom + 36
        var x = 18.0
        svg.circle(x, legendY - 4, radius: 4.5, fill: PlotColors.series[0])
        svg.text("cell", x: x + 9, y: legendY, size: 11.5); x += 9 + LabelWidth.of("cell", size: 11.5) + 16
        let intervalText = "mean and " + (interval?.method ?? "interval (needs 2 cells)")
        svg.line(x - 6, legendY - 4, x + 14, legendY - 4, stroke: PlotColors.series[1], width: 2.5)
        svg.text(intervalText, x: x + 20, y: legendY, size: 11.5); x += 20 + LabelWidth.of(intervalText, size: 11.5) + 16
        if !levels.isEmpty {
            svg.line(x, legendY - 4, x + 18, legendY - 4, stroke: "#C0392B", width: 1.5, dash: "5 3")
            svg.text("gate", x: x + 23, y: legendY, size: 11.5); x += 23 + LabelWidth.of("gate", size: 11.5) + 16
        }
        if baselineMean != nil {
            svg.line(x, legendY - 4, x + 18, legendY - 4, stroke: "#555", width: 1.5, dash: "5 3")
            svg.text("baseline mean", x: x + 23, y: legendY, size: 11.5)
        }
        return svg
    }
}

/// An approximate text width for layout: the average glyph of the sans-serif faces is about 0.56 em.
enum LabelWidth {
    static func of(_ text: String, size: Double) -> Double { Double(text.count) * size * 0.56 }
}
