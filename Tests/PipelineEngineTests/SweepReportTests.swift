import XCTest
@testable import PipelineEngine

/// The sweep section's heat maps: one grid per metric whatever the number of dimensions.
final class SweepReportTests: XCTestCase {
    private func report(dimensions: [String], cells: [[String: String]]) -> SweepReport {
        let values = cells.indices.map { i -> [Double?] in [0.101 + 0.01 * Double(i), 100 + Double(i)] }
        return SweepReport(dimensions: dimensions, cells: cells,
                           columns: [("segmentation_map", "seed_map", "seed mAP", .quality),
                                     ("segmentation", "seconds", "training time", .cost)],
                           values: values, statuses: cells.map { _ in [:] })
    }

    func testThreeDimensionalSweepGetsOneHeatMapPerMetricWithCombinedColumns() {
        var cells: [[String: String]] = []
        for backbone in ["resnet18", "resnet34"] {
            for seed in ["7", "8"] {
                for truncation in ["0", "1", "2"] { cells.append(["backbone": backbone, "seed": seed, "truncation": truncation]) }
            }
        }
        let charts = report(dimensions: ["backbone", "seed", "truncation"], cells: cells).charts()
        let maps = charts.filter { $0.title == "seed mAP (segmentation_map)" || $0.title == "training time (segmentation)" }
        XCTAssertEqual(maps.count, 2, "one heat map per quality and cost metric")
        let map = maps[0].markup
        XCTAssertTrue(map.contains(">seed · truncation<"), "the column title names the combined dimensions")
        for seed in ["7", "8"] {
            for truncation in ["0", "1", "2"] { XCTAssertTrue(map.contains(">\(seed) · \(truncation)<"), "column \(seed) · \(truncation)") }
        }
        for backbone in ["resnet18", "resnet34"] { XCTAssertTrue(map.contains(">\(backbone)<")) }
        for i in cells.indices {
            XCTAssertTrue(map.contains(">\(String(format: "%.3f", 0.101 + 0.01 * Double(i)))<"), "cell \(i)'s value is written")
        }
        XCTAssertFalse(map.contains(">—<"), "every cell of the full product has a value")
    }

    func testTwoDimensionalSweepKeepsTheBackboneByTruncationGrid() {
        let cells = [["backbone": "resnet18", "truncation": "0"], ["backbone": "resnet18", "truncation": "1"],
                     ["backbone": "resnet50", "truncation": "0"]]
        let map = report(dimensions: ["backbone", "truncation"], cells: cells).charts()[0].markup
        XCTAssertTrue(map.contains(">truncation<"))
        XCTAssertTrue(map.contains(">0<") && map.contains(">1<"))
        XCTAssertEqual(map.components(separatedBy: ">—<").count - 1, 1, "resnet50 has no truncation 1 cell")
    }
}
