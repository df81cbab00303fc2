import Foundation
import SVGPlotting
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// The chart primitives: what they draw is checked in the markup (a browser renders it in ReportBrowserTests).
final class SVGPlottingTests: XCTestCase {
    func testLegendListsOnlySeriesWithData() {
        let plot = LinePlot(title: "Loss", xLabel: "epoch", yLabel: "loss",
                            series: [.init(name: "train", points: [(1, 2), (2, 1)]), .init(name: "validation", points: [])])
        let markup = plot.render().markup
        XCTAssertTrue(markup.contains(">train<"))
        XCTAssertFalse(markup.contains("validation"), "a legend entry without a line")
        XCTAssertEqual(markup.components(separatedBy: "<polyline").count - 1, 1)
    }

    func testTextIsEscapedAndTheDocumentIsWellFormedXML() throws {
        let plot = LinePlot(title: "a < b & \"c\"", xLabel: "x", yLabel: "y", series: [.init(name: "<s>", points: [(0, 1), (1, 0)])])
        let markup = plot.render().markup
        XCTAssertTrue(markup.contains("a &lt; b &amp; &quot;c&quot;"))
        _ = try XMLDocument(xmlString: markup, options: [])
    }

    func testParetoFrontKeepsPointsNoOtherBeatsOnBothAxes() {
        let plot = ScatterPlot(title: "t", xLabel: "parameters", yLabel: "accuracy", points: [
            .init(label: "a", x: 10, y: 0.5), .init(label: "b", x: 20, y: 0.7), .init(label: "c", x: 30, y: 0.6),
            .init(label: "d", x: 40, y: 0.9), .init(label: "e", x: 10, y: 0.4),
        ])
        XCTAssertEqual(plot.paretoFront.map(\.label), ["a", "b", "d"])
    }

    func testAxisTicksAreNiceAndCoverTheData() {
        let axis = PlotAxis(covering: [0.13, 0.87], from: 0, to: 100)
        XCTAssertLessThanOrEqual(axis.lower, 0.13)
        XCTAssertGreaterThanOrEqual(axis.upper, 0.87)
        XCTAssertEqual(axis.ticks.map { PlotAxis.format($0) }, ["0", "0.2", "0.4", "0.6", "0.8", "1"])
        XCTAssertEqual(PlotAxis(covering: [3e5, 2.4e7], from: 0, to: 1, logarithmic: true).ticks, [1e5, 1e6, 1e7, 1e8])
    }

    func testHeatMapWritesEveryValueAndMarksMissingCells() {
        var map = HeatMap(title: "mAP", rowTitle: "backbone", columnTitle: "truncation", rowLabels: ["resnet18", "resnet34"],
                          columnLabels: ["0", "1"], values: [[0.25, 0.5], [nil, 0.75]])
        map.cellText = { _, _, v in [String(format: "%.2f", v)] }
        let markup = map.render().markup
        for text in ["0.25", "0.50", "0.75", "—", "resnet34", "truncation"] { XCTAssertTrue(markup.contains(">\(text)<"), text) }
    }

    /// The text elements of a chart: content, anchor point, anchor and font size (as `SVGDocument.text` writes them).
    func texts(_ markup: String) throws -> [(text: String, x: Double, y: Double, anchor: String, size: Double)] {
        _ = try XMLDocument(xmlString: markup, options: [])
        let pattern = try NSRegularExpression(pattern: "<text x=\"([^\"]+)\" y=\"([^\"]+)\" font-size=\"([^\"]+)\" text-anchor=\"([^\"]+)\"[^>]*>([^<]*)</text>")
        let ns = markup as NSString
        return pattern.matches(in: markup, range: NSRange(location: 0, length: ns.length)).map { m in
            func group(_ i: Int) -> String { ns.substring(with: m.range(at: i)) }
            return (group(5), Double(group(1)) ?? .nan, Double(group(2)) ?? .nan, group(4), Double(group(3)) ?? .nan)
        }
    }

    /// Whether two labels' boxes (width from a generous 0.6 em per character, one line high) intersect.
    func overlap(_ a: (text: String, x: Double, y: Double, anchor: String, size: Double),
                 _ b: (text: String, x: Double, y: Double, anchor: String, size: Double)) -> Bool {
        func box(_ t: (text: String, x: Double, y: Double, anchor: String, size: Double)) -> (Double, Double, Double, Double) {
            let w = Double(t.text.count) * t.size * 0.56
            let x0 = t.anchor == "end" ? t.x - w : t.anchor == "middle" ? t.x - w / 2 : t.x
            return (x0, t.y - t.size * 0.8, x0 + w, t.y + t.size * 0.2)
        }
        let (p, q) = (box(a), box(b))
        return p.0 < q.2 && q.0 < p.2 && p.1 < q.3 && q.1 < p.3
    }

    func testTiedPointsShareOneMarkerAndOneLabel() throws {
        // Two cells with the same accuracy and parameter count, as a backbone × truncation sweep gives.
        let plot = ScatterPlot(title: "accuracy against parameters", xLabel: "parameters", yLabel: "accuracy", points: [
            .init(label: "resnet18 · 1", x: 11e6, y: 0.82), .init(label: "resnet18 · 2", x: 11e6, y: 0.82),
            .init(label: "resnet34 · 1", x: 21e6, y: 0.85),
        ])
        let markup = plot.render().markup
        XCTAssertEqual(markup.components(separatedBy: "<circle").count - 1, 2, "one marker per spot")
        XCTAssertTrue(markup.contains(">resnet18 · 1, resnet18 · 2<"), markup)
        XCTAssertTrue(markup.contains("<title>resnet18 · 1, resnet18 · 2: "), "the tooltip names both cells")
        // Four tied cells stack their names two per line.
        let four = ScatterPlot(title: "t", xLabel: "x", yLabel: "y", points: (1...4).map { .init(label: "c\($0)", x: 5, y: 0.5) } + [.init(label: "d", x: 9, y: 0.9)])
        let lines = try texts(four.render().markup).filter { $0.text.hasPrefix("c") }
        XCTAssertEqual(lines.map(\.text), ["c1, c2", "c3, c4"])
        XCTAssertEqual(lines[1].y - lines[0].y, 12.5)
    }

    func testPointLabelsDoNotOverlapEachOtherWhenPointsCrowd() throws {
        // Nearly tied cells: different enough to get their own markers, too close for labels in one place.
        var points: [ScatterPlot.Point] = []
        for i in 0..<6 {
            let step = Double(i)
            points.append(ScatterPlot.Point(label: "resnet18 · t\(i)", x: 11e6 + step * 2e5, y: 0.8 + step * 0.004))
        }
        points.append(ScatterPlot.Point(label: "resnet50 · t0", x: 23e6, y: 0.9))
        let plot = ScatterPlot(title: "accuracy against parameters", xLabel: "parameters", yLabel: "accuracy", points: points)
        let labels = try texts(plot.render().markup).filter { $0.text.hasPrefix("resnet") }
        XCTAssertEqual(labels.count, 7)
        for i in labels.indices { for j in labels.indices where j > i {
            XCTAssertFalse(overlap(labels[i], labels[j]), "\(labels[i]) overlaps \(labels[j])")
        } }
    }

    func testTheBestCellsLabelKeepsClearOfTheLegend() throws {
        // The best cell of a sweep sits in the top-right corner, where the legend is (seen in a 3-D sweep's report).
        let points = [ScatterPlot.Point(label: "resnet18 · 1 · 2", x: 3.9e6, y: 0.37), ScatterPlot.Point(label: "resnet18 · 2 · 1", x: 6.1e6, y: 0.43),
                      ScatterPlot.Point(label: "resnet34 · 1 · 1", x: 11.4e6, y: 0.57)]
        let plot = ScatterPlot(title: "accuracy against parameters", xLabel: "parameters", yLabel: "accuracy", points: points)
        let texts = try texts(plot.render().markup)
        let legend = try XCTUnwrap(texts.first { $0.text == "Pareto front" })
        for label in texts where label.text.hasPrefix("resnet") {
            XCTAssertFalse(overlap(label, legend), "\(label) overlaps the legend \(legend)")
        }
    }

    func testReplicatePlotDrawsCellsIntervalLevelsAndBaseline() throws {
        let plot = ReplicatePlot(title: "accuracy over cls[replicate=*]",
                                 values: [.init(label: "cls[replicate=1]", value: 0.86), .init(label: "cls[replicate=2]", value: 0.86),
                                          .init(label: "cls[replicate=3]", value: 0.9)],
                                 interval: (method: "Student t 95 %", low: 0.81, high: 0.94),
                                 levels: [.init(label: "mean ≥ 0.85", value: 0.85), .init(label: "ci95_low ≥ 0.8", value: 0.8),
                                          .init(label: "baseline − 0.02", value: 0.855)],
                                 baselineMean: 0.875)
        let markup = plot.render().markup
        _ = try XMLDocument(xmlString: markup, options: [])
        let dots = markup.components(separatedBy: "<circle").dropFirst().filter { $0.contains("<title>cls[replicate=") }
        XCTAssertEqual(dots.count, 3, "every cell a dot")
        XCTAssertEqual(Set(dots.map { $0.prefix { $0 != "r" } }).count, 3, "tied cells do not hide each other")
        XCTAssertTrue(markup.contains("<title>mean 0.873, Student t 95 % [0.81, 0.94]</title>"), markup)
        XCTAssertEqual(markup.components(separatedBy: "stroke-dasharray").count - 1, 4 + 2, "three gate lines and the baseline, plus two legend swatches")
        let labels = try texts(markup).filter { ($0.text.contains("≥") || $0.text.contains("−") || $0.text.hasPrefix("baseline ")) && $0.text != "baseline mean" }
        XCTAssertEqual(labels.count, 4)
        for i in labels.indices { for j in labels.indices where j > i {
            XCTAssertFalse(overlap(labels[i], labels[j]), "\(labels[i]) overlaps \(labels[j])")
        } }
    }
}
