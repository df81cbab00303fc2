import Foundation
import XCTest
@testable import EvaluationMetrics

/// Classification report (spec §7.2): the paper's two confusion matrices and hand-computed cases.
final class ClassificationMetricsTests: XCTestCase {
    let names = ["Control", "CP", "COVID-19"]

    func testPaperMergedMatrix() {
        let report = ClassificationReport(confusion: ConfusionMatrix(rows: [[9236, 188, 26], [116, 7150, 129], [20, 298, 4028]]),
                                          classNames: names)
        XCTAssertEqual(report.confusion.total, 21_191)
        // README: 97.74% / 96.69% / 92.68%, accuracy 96.33%.
        XCTAssertEqual(report.classes.map { round($0.sensitivity! * 10_000) / 100 }, [97.74, 96.69, 92.68])
        XCTAssertEqual(round(report.accuracy! * 10_000) / 100, 96.33)
        XCTAssertEqual(report.accuracy!, 20_414.0 / 21_191.0, accuracy: 1e-15)
    }

    func testPaperBothMasksMatrix() {
        let report = ClassificationReport(confusion: ConfusionMatrix(rows: [[9158, 278, 14], [204, 7030, 161], [15, 251, 4080]]),
                                          classNames: names)
        XCTAssertEqual(report.classes.map { round($0.sensitivity! * 10_000) / 100 }, [96.91, 95.06, 93.88])
        XCTAssertEqual(round(report.accuracy! * 10_000) / 100, 95.64)
    }

    func testHandComputedThreeClassExample() {
        // rows = truth:        pred 0 1 2
        //   class 0 (5):           3 1 1
        //   class 1 (4):           0 4 0
        //   class 2 (1):           1 0 0
        let m = ConfusionMatrix(truths: [0, 0, 0, 0, 0, 1, 1, 1, 1, 2], predictions: [0, 0, 0, 1, 2, 1, 1, 1, 1, 0], classCount: 3)
        XCTAssertEqual(m.rows, [[3, 1, 1], [0, 4, 0], [1, 0, 0]])
        let r = ClassificationReport(confusion: m)
        // Class 0: TP 3, FN 2, FP 1, TN 4 → sens 3/5, spec 4/5, prec 3/4, F1 = 2·.75·.6/1.35 = 2/3.
        XCTAssertEqual(r.classes[0].sensitivity!, 0.6, accuracy: 1e-15)
        XCTAssertEqual(r.classes[0].specificity!, 0.8, accuracy: 1e-15)
        XCTAssertEqual(r.classes[0].precision!, 0.75, accuracy: 1e-15)
        XCTAssertEqual(r.classes[0].f1!, 2.0 / 3.0, accuracy: 1e-15)
        // Class 1: TP 4, FN 0, FP 1, TN 5 → 1, 5/6, 4/5, F1 8/9.
        XCTAssertEqual(r.classes[1].sensitivity!, 1)
        XCTAssertEqual(r.classes[1].specificity!, 5.0 / 6.0, accuracy: 1e-15)
        XCTAssertEqual(r.classes[1].precision!, 0.8, accuracy: 1e-15)
        XCTAssertEqual(r.classes[1].f1!, 8.0 / 9.0, accuracy: 1e-15)
        // Class 2: TP 0, FN 1, FP 1, TN 8 → sens 0, spec 8/9, prec 0, F1 0 (P + R = 0).
        XCTAssertEqual(r.classes[2].sensitivity!, 0)
        XCTAssertEqual(r.classes[2].specificity!, 8.0 / 9.0, accuracy: 1e-15)
        XCTAssertEqual(r.classes[2].precision!, 0)
        XCTAssertEqual(r.classes[2].f1!, 0)
        XCTAssertEqual(r.accuracy!, 0.7, accuracy: 1e-15)
        XCTAssertEqual(r.balancedAccuracy!, 1.6 / 3.0, accuracy: 1e-15)
        XCTAssertEqual(r.macroPrecision!, 1.55 / 3.0, accuracy: 1e-15)
        XCTAssertEqual(r.macroF1!, (2.0 / 3.0 + 8.0 / 9.0) / 3.0, accuracy: 1e-15)
        XCTAssertEqual(r.macroSpecificity!, (0.8 + 5.0 / 6.0 + 8.0 / 9.0) / 3.0, accuracy: 1e-15)
        // Kappa: p_o = .7, p_e = (5·4 + 4·5 + 1·1) / 100 = .41 → (.7 − .41)/.59.
        XCTAssertEqual(r.cohensKappa!, 0.29 / 0.59, accuracy: 1e-12)
    }

    func testClassWithoutSamplesIsNilNotNaN() throws {
        // Class 2 has no samples and is never predicted: sensitivity, precision and F1 are undefined (nil);
        // its specificity is defined (TN = 4, FP = 0 → 1). Macro means skip the undefined values.
        let r = ClassificationReport(confusion: ConfusionMatrix(rows: [[2, 1, 0], [0, 1, 0], [0, 0, 0]]))
        XCTAssertEqual(r.classes[2].support, 0)
        XCTAssertNil(r.classes[2].sensitivity)
        XCTAssertNil(r.classes[2].sensitivityInterval)
        XCTAssertNil(r.classes[2].precision)
        XCTAssertNil(r.classes[2].f1)
        XCTAssertEqual(r.classes[2].specificity, 1)
        XCTAssertEqual(r.balancedAccuracy!, (2.0 / 3.0 + 1) / 2, accuracy: 1e-15)
        // nil encodes as null, so the report is valid JSON (NaN would make JSONEncoder throw).
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        XCTAssertFalse(json.contains("NaN"))
        let decoded = try JSONDecoder().decode(ClassificationReport.self, from: Data(json.utf8))
        XCTAssertEqual(decoded, r)
        // An empty matrix: nothing is defined.
        let empty = ClassificationReport(confusion: ConfusionMatrix(classCount: 2))
        XCTAssertNil(empty.accuracy)
        XCTAssertNil(empty.cohensKappa)
        XCTAssertNil(empty.macroSensitivity)
    }

    func testWilsonInterval() throws {
        // 8 of 10 at 95%: centre (0.8 + 1.9208/10)/1.38415 = 0.7167, half-width 0.2262 → [0.4902, 0.9433].
        let ci = try XCTUnwrap(ProportionInterval.wilson(successes: 8, trials: 10))
        XCTAssertEqual(ci.lower, 0.4901624, accuracy: 1e-6)
        XCTAssertEqual(ci.upper, 0.9433178, accuracy: 1e-6)
        // All successes: upper bound 1, lower n/(n + z²).
        let all = try XCTUnwrap(ProportionInterval.wilson(successes: 20, trials: 20))
        XCTAssertEqual(all.upper, 1, accuracy: 1e-12)
        XCTAssertEqual(all.lower, 20 / (20 + 1.959963984540054 * 1.959963984540054), accuracy: 1e-12)
        XCTAssertNil(ProportionInterval.wilson(successes: 0, trials: 0))
    }
}
