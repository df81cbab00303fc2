import Foundation
@testable import PipelineEngine
import TestSupport
import XCTest

/// The page from a hand-made run record: sections in order, gates colour-coded with their reference,
/// headline metrics first and the rest folded, figures embedded, nothing that would leave the file.
final class RunReportPageTests: XCTestCase {
    func testPageOrdersSectionsAndFoldsNonHeadlineMetrics() throws {
        let temporary = try TemporaryDirectory("masknet-page")
        let root = temporary.url
        let store = try ArtifactStore(root: root.appendingPathComponent("store"))
        let svgFile = root.appendingPathComponent("chart.svg")
        try "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"5\" height=\"5\"/></svg>"
            .write(to: svgFile, atomically: true, encoding: .utf8)
        let chart = try store.store(itemAt: svgFile, move: false)
        let gates = [GateVerdict(stage: "eval", metric: "score", condition: ">= 0.5", value: 0.75, passed: true, message: "",
                                 reference: 0.8, source: "Table 3"),
                     GateVerdict(stage: "eval", metric: "other", condition: "<= 1", value: 2, passed: false, message: "2 > 1",
                                 reference: nil, source: nil)]
        let stage = StageRunRecord(name: "eval", baseName: "eval", cell: [:], kind: "evaluate", version: "1", determinism: "deterministic",
                                   status: .computed, reason: "not in the store", key: "k", components: nil,
                                   outputs: ["chart.svg": chart],
                                   metrics: ["score": 0.75, "score_lower": 0.6, "score_upper": 0.85, "other": 2, "zeta": 9, "alpha": 1],
                                   gates: gates, wallSeconds: 12.5, peakMemoryBytes: 64 << 20, log: "logs/eval.log")
        let run = RunRecord(id: "20260101-000000-test-abc", pipeline: "test", file: "t.yaml", seed: "1", overrides: [],
                            startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:01:00Z", status: .gatesFailed,
                            exitCode: 3, pid: 1, environment: [:], stages: [stage])
        let folder = root.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let presentation = MetricPresentation(headline: ["score", "other"],
                                              intervals: ["score": .init(lower: "score_lower", upper: "score_upper", kind: "95% Wilson")],
                                              labels: ["score": "the score"])
        let summary = try RunReportPage.write(run, store: store, folder: folder, presentations: ["evaluate": presentation])
        let html = try String(contentsOf: summary.html, encoding: .utf8)
        let order = ["id=\"verdict\"", "id=\"stages\"", "id=\"metrics\"", "id=\"figures\""].map { html.range(of: $0)?.lowerBound }
        XCTAssertFalse(order.contains(nil), "every section present")
        XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), "sections in order")
        XCTAssertTrue(html.contains("1 of 2 gates fail"))
        XCTAssertTrue(html.contains("<tr class=\"fail\">") && html.contains("<tr class=\"pass\">"))
        XCTAssertTrue(html.contains("Table 3"))
        XCTAssertTrue(html.contains("0.600 – 0.850"), "interval beside the headline metric")
        XCTAssertTrue(html.contains("not in the store") && html.contains("href=\"logs/eval.log\""))
        // Headline metrics in the first table, the rest behind <details>.
        let details = try XCTUnwrap(html.range(of: "<details>"))
        XCTAssertLessThan(try XCTUnwrap(html.range(of: "the score")).lowerBound, details.lowerBound)
        XCTAssertGreaterThan(try XCTUnwrap(html.range(of: ">zeta<")).lowerBound, details.lowerBound)
        XCTAssertFalse(html.contains("<?xml"), "the figure's XML declaration is dropped when inlined")
        XCTAssertEqual(summary.figureCount, 1)
        XCTAssertFalse(html.contains("src=\"http"), "nothing fetched")
        XCTAssertTrue(html.contains("default-src 'none'"))
        let markdown = try String(contentsOf: folder.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| eval | the score | 0.75 (95% Wilson 0.600–0.850) |"), markdown)
        XCTAssertFalse(markdown.contains("zeta"), "report.md holds headline metrics only")
    }
}
