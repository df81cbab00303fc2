import Foundation

/// A line chart: one polyline per series, axes with nice ticks, a legend listing only the series that
/// have data (a legend entry without a line misleads).
public struct LinePlot: Sendable {
    /// One named line.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// Drawn faintly (raw values behind a smoothed line).
        public var faint: Bool
        /// Dots at the points (for short series, e.g. per-epoch values).
        public var markers: Bool
        /// Colour index into `PlotColors.series` (nil: position in the plot).
        public var colorIndex: Int?

        public init(name: String, points: [(x: Double, y: Double)], faint: Bool = false, markers: Bool = false,
                    colorIndex: Int? = nil) {
            self.name = name; self.points = points; self.faint = faint; self.markers = markers; self.colorIndex = colorIndex
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var logarithmicY = false
    /// Fixed y range (e.g. 0…1 for precision), else fitted to the data.
    public var yRange: ClosedRange<Double>?
    /// Fixed x range, else fitted.
    public var xRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
    }

    /// The chart as SVG.
    public func render(width: Double = 520, height: Double = 300) -> SVGDocument {
        var svg = SVGDocument(width: width, height: height, title: title)
        let (left, right, top, bottom) = (68.0, width - 16, 30.0, height - 44)
        svg.text(title, x: left, y: 18, size: 14, weight: "600")
        let finite = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        guard !finite.isEmpty else {
            svg.rect(left, top, right - left, bottom - top, fill: "none", stroke: "#bbb")
            svg.text("no data", x: (left + right) / 2, y: (top + bottom) / 2, anchor: "middle", fill: "#888")
            return svg
        }
        let xAxis = xRange.map { PlotAxis(lower: $0.lowerBound, upper: $0.upperBound, from: left, to: right) }
            ?? PlotAxis(covering: finite.map(\.x), from: left, to: right)
        let yAxis = yRange.map { PlotAxis(lower: $0.lowerBound, upper: $0.upperBound, from: bottom, to: top) }
            ?? PlotAxis(covering: finite.map(\.y), from: bottom, to: top, logarithmic: logarithmicY)
        PlotFrame.draw(&svg, x: xAxis, y: yAxis, left: left, right: right, top: top, bottom: bottom,
                       xLabel: xLabel, yLabel: yLabel)
        var legend: [(String, String, Bool)] = []
        for (index, line) in series.enumerated() {
            let color = PlotColors.series[(line.colorIndex ?? index) % PlotColors.series.count]
            let points = line.points.filter { $0.x.isFinite && $0.y.isFinite && (!logarithmicY || $0.y > 0) }
            guard !points.isEmpty else { continue }
            // With a fixed range, values beyond it are drawn at its edge (a raw loss spike stays visible as
            // a spike without flattening the rest of the curve).
            let clamp = { (y: Double) in self.yRange.map { min(max(y, $0.lowerBound), $0.upperBound) } ?? y }
            let pixels = points.map { (xAxis.position($0.x), yAxis.position(clamp($0.y))) }
            svg.polyline(pixels, stroke: color, width: line.faint ? 1 : 2, opacity: line.faint ? 0.3 : 1)
            if line.markers || points.count == 1 {
                for (p, point) in zip(pixels, points) {
                    svg.circle(p.0, p.1, radius: 3, fill: color,
                               tooltip: "\(line.name): \(PlotAxis.format(point.x)), \(PlotAxis.format(point.y))")
                }
            }
            if !line.faint { legend.append((line.name, color, line.markers)) }
        }
        for (index, entry) in legend.enumerated() {
            let y = top + 12 + Double(index) * 16
            svg.rect(right - 130, y - 9, 124, 15, fill: "white", stroke: nil)
            svg.line(right - 126, y - 4, right - 108, y - 4, stroke: entry.1, width: 2.5)
            svg.text(entry.0, x: right - 102, y: y, size: 11.5)
        }
        return svg
    }
}

/// Axes, grid lines, tick labels and axis titles shared by the charts.
enum PlotFrame {
    static func draw(_ svg: inout SVGDocument, x: PlotAxis, y: PlotAxis, left: Double, right: Double, top: Double,
                     bottom: Double, xLabel: String, yLabel: String) {
        for tick in y.ticks {
            let py = y.position(tick)
            svg.line(left, py, right, py, stroke: "#e6e6e6")
            svg.text(y.label(tick), x: left - 6, y: py + 4, size: 11, anchor: "end", fill: "#555")
        }
        for tick in x.ticks {
            let px = x.position(tick)
            svg.line(px, top, px, bottom, stroke: "#f0f0f0")
            svg.text(x.label(tick), x: px, y: bottom + 15, size: 11, anchor: "middle", fill: "#555")
        }
        svg.rect(left, top, right - left, bottom - top, fill: "none", stroke: "#999")
        svg.text(xLabel, x: (left + right) / 2, y: bottom + 33, size: 12, anchor: "middle")
        svg.text(yLabel, x: 14, y: (top + bottom) / 2, size: 12, anchor: "middle", rotate: -90)
    }
}

extension LinePlot.Series {
    /// An exponential moving average of `points` (TensorBoard's smoothing, debiased at the start).
    public static func smoothed(_ points: [(x: Double, y: Double)], weight: Double) -> [(x: Double, y: Double)] {
        var average = 0.0, debias = 0.0
        return points.map { point in
            average = weight * average + (1 - weight) * point.y
            debias = weight * debias + (1 - weight)
            return (point.x, average / debias)
        }
    }
}
