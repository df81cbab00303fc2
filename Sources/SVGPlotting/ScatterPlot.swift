import Foundation

/// A labelled scatter plot with its Pareto front (the points no other point beats on both axes), for
/// trade-offs such as accuracy against parameter count.
public struct ScatterPlot: Sendable {
    /// One labelled point.
    public struct Point: Sendable {
        public var label: String, x: Double, y: Double
        public init(label: String, x: Double, y: Double) { self.label = label; self.x = x; self.y = y }
    }

    public var title: String, xLabel: String, yLabel: String
    public var points: [Point]
    public var logarithmicX = false
    /// Whether smaller x and larger y are better (cost against quality); the front joins the best points.
    public var showParetoFront = true

    public init(title: String, xLabel: String, yLabel: String, points: [Point]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.points = points
    }

    /// Points on the front (lowest x for their y), ordered by x.
    public var paretoFront: [Point] {
        let sorted = points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { ($0.x, -$0.y) < ($1.x, -$1.y) }
        var front: [Point] = [], best = -Double.infinity
        for p in sorted where p.y > best { front.append(p); best = p.y }
        return front
    }

    /// The chart as SVG.
    public func render(width: Double = 520, height: Double = 320) -> SVGDocument {
        var svg = SVGDocument(width: width, height: height, title: title)
        let (left, right, top, bottom) = (68.0, width - 20, 30.0, height - 44)
        svg.text(title, x: left, y: 18, size: 14, weight: "600")
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        guard !finite.isEmpty else {
            svg.text("no data", x: (left + right) / 2, y: (top + bottom) / 2, anchor: "middle", fill: "#888")
            return svg
        }
        let xAxis = PlotAxis(covering: finite.map(\.x), from: left, to: right, logarithmic: logarithmicX)
        // A little room above and below, so points on the extremes do not sit on the frame or the title.
        let ys = finite.map(\.y), span = (ys.max() ?? 0) - (ys.min() ?? 0)
        let padding = span > 0 ? [(ys.min() ?? 0) - 0.05 * span, (ys.max() ?? 0) + 0.05 * span] : []
        let yAxis = PlotAxis(covering: ys + padding, from: bottom, to: top)
        PlotFrame.draw(&svg, x: xAxis, y: yAxis, left: left, right: right, top: top, bottom: bottom, xLabel: xLabel, yLabel: yLabel)
        let front = paretoFront
        if showParetoFront {
            svg.polyline(front.map { (xAxis.position($0.x), yAxis.position($0.y)) }, stroke: PlotColors.series[1], width: 1.5)
        }
        let frontLabels = Set(front.map(\.label))
        for p in finite {
            let (px, py) = (xAxis.position(p.x), yAxis.position(p.y))
            let onFront = frontLabels.contains(p.label)
            svg.circle(px, py, radius: onFront ? 5 : 4, fill: onFront ? PlotColors.series[1] : PlotColors.series[0],
                       tooltip: "\(p.label): \(PlotAxis.format(p.x)), \(PlotAxis.format(p.y))")
            svg.text(p.label, x: px + 7, y: py - 6, size: 10.5, anchor: px > right - 90 ? "end" : "start", fill: "#333")
        }
        if showParetoFront {
            svg.line(right - 150, top + 10, right - 132, top + 10, stroke: PlotColors.series[1], width: 2)
            svg.text("Pareto front", x: right - 126, y: top + 14, size: 11.5)
        }
        return svg
    }
}
