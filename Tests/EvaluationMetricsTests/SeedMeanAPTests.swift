import XCTest
@testable import EvaluationMetrics

/// Hand-computed cases for the seed's mAP (spec §7.1), one per rule.
final class SeedMeanAPTests: XCTestCase {
    /// A 10×10 mask with the half-open rectangle [x0, x1) × [y0, y1) set.
    func rect(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) -> BinaryMask {
        var m = BinaryMask(height: 10, width: 10)
        for y in y0..<y1 { for x in x0..<x1 { m[y, x] = true } }
        return m
    }

    func gt(_ m: BinaryMask, _ label: Int = 1) -> SeedMAPGroundTruth { SeedMAPGroundTruth(mask: m, label: label) }
    func pred(_ m: BinaryMask, _ score: Float, _ label: Int = 1) -> SeedMAPPrediction {
        SeedMAPPrediction(mask: m, score: score, label: label)
    }

    func testThresholdsAreTheSpecsFloat32Values() {
        // numpy: np.arange(0.5, 1.0, 0.05, dtype=np.float32).tolist()
        let spec: [Double] = [0.5, 0.550000011920929, 0.6000000238418579, 0.6500000357627869, 0.7000000476837158,
                              0.7500000596046448, 0.8000000715255737, 0.8500000834465027, 0.9000000953674316,
                              0.9500001072883606]
        XCTAssertEqual(SeedMeanAP.thresholds.map(Double.init), spec)
        XCTAssertEqual(SeedMeanAP.thresholds[4], 0.70000005)
        // torch: torch.arange(0.5, 1, 0.05).tolist()
        let torch: [Double] = [0.5, 0.550000011920929, 0.6000000238418579, 0.6499999761581421, 0.699999988079071,
                               0.75, 0.800000011920929, 0.8500000238418579, 0.8999999761581421, 0.949999988079071]
        XCTAssertEqual(SeedMeanAP.torchArangeThresholds.map(Double.init), torch)
    }

    func testEmptyImageRules() {
        let square = rect(0, 0, 4, 4)
        // no gt, no predictions → 1
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: SeedMAPImage(groundTruths: [], predictions: []), threshold: 0.5), 1)
        // no gt, predictions → 0
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: SeedMAPImage(groundTruths: [], predictions: [pred(square, 0.9)]), threshold: 0.5), 0)
        // gt, no predictions → 0
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: SeedMAPImage(groundTruths: [gt(square)], predictions: []), threshold: 0.5), 0)
        // Dataset AP is the mean over ALL images: (1 + 0 + 0 + 1) / 4 with a perfect fourth image.
        let result = SeedMeanAP.evaluate(images: [
            SeedMAPImage(groundTruths: [], predictions: []),
            SeedMAPImage(groundTruths: [], predictions: [pred(square, 0.9)]),
            SeedMAPImage(groundTruths: [gt(square)], predictions: []),
            SeedMAPImage(groundTruths: [gt(square)], predictions: [pred(square, 0.3)]),
        ])
        XCTAssertEqual(result.averagePrecisions, [Double](repeating: 0.5, count: 10))
        XCTAssertEqual(result.mean, 0.5)
        XCTAssertEqual(result.perImage[0], [1, 0, 0, 1])
    }

    func testStrictGreaterThanAtEquality() {
        // gt 4 px, prediction 2 of them: IoU = 2/4 = 0.5 exactly → not a match at 0.5, a match at 0.45.
        let image = SeedMAPImage(groundTruths: [gt(rect(0, 0, 2, 2))], predictions: [pred(rect(0, 0, 2, 1), 0.9)])
        XCTAssertEqual(SeedMeanAP.maskIoU(predictions: [rect(0, 0, 2, 1)], groundTruths: [rect(0, 0, 2, 2)]), [[0.5]])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image, threshold: 0.5), 0)
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image, threshold: 0.45), 1)
        // IoU 0.55 (11 of 20 px) equals float32 threshold 0.55000001 exactly → no match.
        let image55 = SeedMAPImage(groundTruths: [gt(rect(0, 0, 10, 2))], predictions: [pred(rect(0, 0, 10, 1).union(rect(0, 1, 1, 2)), 0.9)])
        XCTAssertEqual(SeedMeanAP.maskIoU(predictions: [image55.predictions[0].mask], groundTruths: [image55.groundTruths[0].mask]), [[Float(0.55)]])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image55, threshold: SeedMeanAP.thresholds[1]), 0)
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image55, threshold: SeedMeanAP.thresholds[0]), 1)
    }

    func testPerThresholdAPAndMean() {
        // IoU = 8/10 = 0.8: a match for the six thresholds 0.5...0.75, not for 0.80000007 and above.
        let image = SeedMAPImage(groundTruths: [gt(rect(0, 0, 5, 2))], predictions: [pred(rect(0, 0, 4, 2), 0.7)])
        let result = SeedMeanAP.evaluate(images: [image])
        XCTAssertEqual(result.averagePrecisions, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
        XCTAssertEqual(result.mean, 0.6, accuracy: 1e-12)
        XCTAssertEqual(result.apAt(0.75), 1)
        XCTAssertEqual(result.apAt(0.8), 0)
        XCTAssertNil(result.apAt(0.77))
        XCTAssertEqual(result.summaryLines.first, "mAP:0.6000")
        XCTAssertEqual(result.summaryLines[5], "AP@0.70:1.0000")
        XCTAssertEqual(result.summaryLines[7], "AP@0.80:0.0000")
    }

    func testOrderingByScore() {
        let target = rect(0, 0, 4, 4), elsewhere = rect(6, 6, 9, 9)
        // FP scored above TP: precision [0, 1/2], recall [0, 1] → AP = 1 · 0.5.
        let fpFirst = SeedMAPImage(groundTruths: [gt(target)], predictions: [pred(target, 0.8), pred(elsewhere, 0.9)])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: fpFirst, threshold: 0.5), 0.5)
        XCTAssertEqual(SeedMeanAP.match(image: fpFirst, threshold: 0.5).order, [1, 0])
        // TP scored above FP: precision [1, 1/2], recall [1, 1] → AP = 1.
        let tpFirst = SeedMAPImage(groundTruths: [gt(target)], predictions: [pred(target, 0.9), pred(elsewhere, 0.8)])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: tpFirst, threshold: 0.5), 1)
    }

    func testAllPointInterpolation() {
        // TP, FP, TP, TP against 4 gts: p = [1, .5, .667, .75], r = [.25, .25, .5, .75];
        // non-increasing from the right: [1, .75, .75, .75]; AP = .25·1 + .25·.75 + .25·.75 + .25·0 = 0.625.
        XCTAssertEqual(SeedMeanAP.allPointAP(predictionMatch: [0, -1, 1, 2], groundTruthCount: 4), 0.625, accuracy: 1e-7)
        // Same through images: 4 gt squares, predictions in that score order.
        let squares = [rect(0, 0, 2, 2), rect(3, 0, 5, 2), rect(6, 0, 8, 2), rect(0, 5, 2, 7)]
        let image = SeedMAPImage(groundTruths: squares.map { gt($0) },
                                 predictions: [pred(squares[0], 0.9), pred(rect(8, 8, 10, 10), 0.8),
                                               pred(squares[1], 0.7), pred(squares[2], 0.6)])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image, threshold: 0.5), 0.625, accuracy: 1e-7)
        // A precision dip followed by a rise is flattened: FP, TP with 1 gt → 0.5 (not 0).
        XCTAssertEqual(SeedMeanAP.allPointAP(predictionMatch: [-1, 0], groundTruthCount: 1), 0.5)
    }

    func testLabelMustMatch() {
        let target = rect(0, 0, 4, 4)
        // Perfect overlap with the wrong class is no match.
        let wrong = SeedMAPImage(groundTruths: [gt(target, 1)], predictions: [pred(target, 0.9, 2)])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: wrong, threshold: 0.5), 0)
        // The best-IoU candidate has the wrong class: the gt takes the next candidate above the threshold
        // with its class (IoU 12/16 = 0.75), which scores lower → order [wrong-class FP, TP] → AP 0.5.
        let image = SeedMAPImage(groundTruths: [gt(target, 1)],
                                 predictions: [pred(target, 0.9, 2), pred(rect(0, 0, 4, 3), 0.5, 1)])
        let matches = SeedMeanAP.match(image: image, threshold: 0.5)
        XCTAssertEqual(matches.groundTruthMatch, [1])
        XCTAssertEqual(matches.predictionMatch, [-1, 0])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image, threshold: 0.5), 0.5)
    }

    func testGroundTruthLoopVisitsCandidatesByIoUNotScore() {
        // Both predictions overlap the gt above 0.5; the lower-scored one has the higher IoU and wins,
        // leaving the higher-scored one a FP → AP 0.5 (COCO's score-order greedy matching would give 1).
        let target = rect(0, 0, 4, 4)
        let image = SeedMAPImage(groundTruths: [gt(target)],
                                 predictions: [pred(rect(0, 0, 4, 3), 0.9), pred(target, 0.2)])
        XCTAssertEqual(SeedMeanAP.match(image: image, threshold: 0.5).groundTruthMatch, [1])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image, threshold: 0.5), 0.5)
    }

    func testOnePredictionMayMatchSeveralGroundTruths() {
        // Two identical gts and one prediction on them: both gts claim it (no "already matched" check);
        // pred_match keeps the last gt; one TP for two gts → recall 0.5, precision 1 → AP 0.5.
        let target = rect(0, 0, 4, 4)
        let image = SeedMAPImage(groundTruths: [gt(target), gt(target)], predictions: [pred(target, 0.9)])
        let matches = SeedMeanAP.match(image: image, threshold: 0.5)
        XCTAssertEqual(matches.groundTruthMatch, [0, 0])
        XCTAssertEqual(matches.predictionMatch, [1])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image, threshold: 0.5), 0.5)
    }

    func testLogitsAreBinarisedStrictly() {
        let p = SeedMAPPrediction(height: 1, width: 4, maskLogits: [0.2, 0.5, 0.51, 3], maskThreshold: 0.5, score: 1, label: 1)
        XCTAssertEqual(p.mask.pixels, [0, 0, 1, 1])
    }

    func testEmptyMasksGiveNaNIoUThatNeverMatches() {
        let empty = BinaryMask(height: 10, width: 10)
        XCTAssertTrue(SeedMeanAP.maskIoU(predictions: [empty], groundTruths: [empty])[0][0].isNaN)
        let image = SeedMAPImage(groundTruths: [gt(empty)], predictions: [pred(empty, 0.9)])
        XCTAssertEqual(SeedMeanAP.averagePrecision(image: image, threshold: 0.5), 0)
    }
}

extension BinaryMask {
    func union(_ other: BinaryMask) -> BinaryMask {
        BinaryMask(height: height, width: width, pixels: zip(pixels, other.pixels).map { $0 | $1 })
    }
}
