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
        // Points that land on the same spot (tied cells) share one marker and one label naming them all.
        var spots: [(x: Double, y: Double, labels: [String], onFront: Bool, values: String)] = []
        for p in finite {
            let (px, py) = (xAxis.position(p.x), yAxis.position(p.y))
            if let i = spots.firstIndex(where: { abs($0.x - px) < 3 && abs($0.y - py) < 3 }) {
                spots[i].labels.append(p.label)
                spots[i].onFront = spots[i].onFront || frontLabels.contains(p.label)
            } else {
                spots.append((px, py, [p.label], frontLabels.contains(p.label), "\(PlotAxis.format(p.x)), \(PlotAxis.format(p.y))"))
            }
        }
        var placer = LabelPlacer(bounds: (left, 0, width, height))
        for spot in spots { placer.reserve(x: spot.x - 6, y: spot.y - 6, width: 12, height: 12) }
        // The legend's corner is taken too, so no point's label lands on "Pareto front".
        if showParetoFront { placer.reserve(x: right - 152, y: top + 2, width: 152, height: 16) }
        for spot in spots {
            svg.circle(spot.x, spot.y, radius: spot.onFront ? 5 : 4, fill: spot.onFront ? PlotColors.series[1] : PlotColors.series[0],
                       tooltip: "\(spot.labels.joined(separator: ", ")): \(spot.values)")
            // Two names per line, so a tie of many cells stacks instead of running off the chart.
            let lines = stride(from: 0, to: spot.labels.count, by: 2).map { spot.labels[$0..<min($0 + 2, spot.labels.count)].joined(separator: ", ") }
            let place = placer.place(lines: lines, nearX: spot.x, y: spot.y, size: 10.5)
            for (i, line) in lines.enumerated() {
                svg.text(line, x: place.x, y: place.y + Double(i) * 12.5, size: 10.5, anchor: place.anchor, fill: "#333")
            }
        }
        if showParetoFront {
            svg.line(right - 150, top + 10, right - 132, top + 10, stroke: PlotColors.series[1], width: 2)
            svg.text("Pareto front", x: right - 126, y: top + 14, size: 11.5)
        }
        return svg
    }
}

/// Places point labels so that they overlap neither each other nor the markers: each label tries the
/// corners around its point (upper right first), then positions further out, and takes the first free one.
struct LabelPlacer {
    /// Boxes already taken: markers and placed labels.
    var taken: [(x: Double, y: Double, width: Double, height: Double)] = []
    /// The area labels must stay in (left, top, right, bottom).
    var bounds: (left: Double, top: Double, right: Double, bottom: Double)

    init(bounds: (Double, Double, Double, Double)) { self.bounds = bounds }

    mutating func reserve(x: Double, y: Double, width: Double, height: Double) { taken.append((x, y, width, height)) }

    /// Where to draw `lines` (the first line's baseline) next to the point (x, y), and the text anchor.
    mutating func place(lines: [String], nearX x: Double, y: Double, size: Double) -> (x: Double, y: Double, anchor: String) {
        let width = lines.map { LabelWidth.of($0, size: size) }.max() ?? 0
        let lineHeight = size * 1.2, height = Double(lines.count) * lineHeight
        func box(_ dx: Double, _ dy: Double, _ anchor: String) -> (x: Double, y: Double, width: Double, height: Double) {
            (anchor == "end" ? x + dx - width : x + dx, y + dy - size, width, height)
        }
        func free(_ b: (x: Double, y: Double, width: Double, height: Double)) -> Bool {
            b.x >= bounds.left && b.x + b.width <= bounds.right && b.y >= bounds.top && b.y + b.height <= bounds.bottom
                && !taken.contains { b.x < $0.x + $0.width && $0.x < b.x + b.width && b.y < $0.y + $0.height && $0.y < b.y + b.height }
        }
        var candidates: [(Double, Double, String)] = []
        for step in 0..<6 {
            let up = -6 - Double(step) * lineHeight, down = 14 + Double(step) * lineHeight
            candidates += [(7, up, "start"), (7, down, "start"), (-7, up, "end"), (-7, down, "end")]
        }
        let chosen = candidates.first { free(box($0.0, $0.1, $0.2)) } ?? (x + width + 7 > bounds.right ? (-7, -6, "end") : (7, -6, "start"))
        let b = box(chosen.0, chosen.1, chosen.2)
        reserve(x: b.x, y: b.y, width: b.width, height: b.height)
        return (x + chosen.0, y + chosen.1, chosen.2)
    }
}
