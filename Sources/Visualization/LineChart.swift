import Foundation

/// A line chart drawn on an `RGBCanvas` (loss curves for run reports).
public struct LineChart {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) { self.name = name; self.points = points }
    }

    public var title: String
    public var xLabel: String
    public var series: [Series]

    public init(title: String, xLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.series = series
    }

    /// Renders the chart: axes with min/max ticks, one coloured polyline per series, a legend.
    public func render(width: Int = 480, height: Int = 300) -> RGBCanvas {
        var canvas = RGBCanvas(width: width, height: height, fill: .white)
        let (left, right, top, bottom) = (56, width - 12, 24, height - 36)
        canvas.text(title, x: left, y: 6, color: .black)
        let allPoints = series.flatMap(\.points).filter { $0.y.isFinite && $0.x.isFinite }
        canvas.rectangle(x1: left, y1: top, x2: right, y2: bottom, color: .grey)
        guard let minX = allPoints.map(\.x).min(), let maxX = allPoints.map(\.x).max(),
              let minY = allPoints.map(\.y).min(), let maxY = allPoints.map(\.y).max() else {
            canvas.text("no data", x: left + 8, y: top + 8, color: .grey)
            return canvas
        }
        let spanX = maxX > minX ? maxX - minX : 1, spanY = maxY > minY ? maxY - minY : 1
        func px(_ x: Double) -> Int { left + Int(((x - minX) / spanX * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - minY) / spanY * Double(bottom - top)).rounded()) }
        for fraction in [0.25, 0.5, 0.75] {
            let y = top + Int(Double(bottom - top) * fraction)
            canvas.line(from: (left + 1, y), to: (right - 1, y), color: .lightGrey, dash: 2)
        }
        canvas.text(Self.format(maxY), x: 2, y: top - 3, color: .black)
        canvas.text(Self.format(minY), x: 2, y: bottom - 4, color: .black)
        canvas.text(Self.format(minX), x: left, y: bottom + 6, color: .black)
        let maxLabel = Self.format(maxX)
        canvas.text(maxLabel, x: right - RGBCanvas.textWidth(maxLabel), y: bottom + 6, color: .black)
        canvas.text(xLabel, x: (left + right - RGBCanvas.textWidth(xLabel)) / 2, y: bottom + 18, color: .black)
        for (index, line) in series.enumerated() {
            let color = RGBColor.series[index % RGBColor.series.count]
            let points = line.points.filter { $0.y.isFinite && $0.x.isFinite }
            for (a, b) in zip(points, points.dropFirst()) {
                canvas.line(from: (px(a.x), py(a.y)), to: (px(b.x), py(b.y)), color: color)
            }
            if points.count == 1 { canvas.fill(x1: px(points[0].x) - 1, y1: py(points[0].y) - 1, x2: px(points[0].x) + 1, y2: py(points[0].y) + 1, color: color) }
            let legendY = top + 6 + index * 11
            canvas.fill(x1: right - 90, y1: legendY + 2, x2: right - 82, y2: legendY + 4, color: color)
            canvas.text(line.name, x: right - 78, y: legendY, color: .black)
        }
        return canvas
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e6 { return String(Int(value)) }
        return abs(value) >= 100 ? String(format: "%.0f", value) : String(format: "%.3g", value)
    }
}
