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
}
