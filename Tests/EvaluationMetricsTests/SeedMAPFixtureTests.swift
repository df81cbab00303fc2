import Foundation
import XCTest
@testable import EvaluationMetrics

/// Agreement with the seed's own `utils.compute_ap` (run by Tools/make_seed_map_fixtures.py on 80 random
/// 12×12 images) at both threshold sets, per image and for the data set.
final class SeedMAPFixtureTests: XCTestCase {
    func testAgreesWithTheSeedsComputeAP() throws {
        let cases = try Fixtures.json("seed_map_cases.json") as! [String: Any]
        let h = int(cases["height"]), w = int(cases["width"])
        func mask(_ s: Any) -> BinaryMask {
            BinaryMask(height: h, width: w, pixels: Array((s as! String).utf8).map { $0 == UInt8(ascii: "1") ? 1 : 0 })
        }
        let entries = cases["images"] as! [[String: Any]]
        let images = entries.map { e -> SeedMAPImage in
            let gts = zip(e["gt"] as! [Any], ints(e["gt_labels"])).map { SeedMAPGroundTruth(mask: mask($0), label: $1) }
            let scores = doubles(e["scores"])
            let preds = zip(zip(e["pred"] as! [Any], ints(e["pred_labels"])), scores).map {
                SeedMAPPrediction(mask: mask($0.0), score: Float($1), label: $0.1)
            }
            return SeedMAPImage(groundTruths: gts, predictions: preds)
        }
        XCTAssertEqual(images.count, 80)
        let thresholdSets = cases["thresholds"] as! [String: Any]
        let dataset = cases["dataset"] as! [String: Any]
        var worst = 0.0
        for (name, ours) in [("spec", SeedMeanAP.thresholds), ("torch", SeedMeanAP.torchArangeThresholds)] {
            XCTAssertEqual(ours.map(Double.init), doubles(thresholdSets[name]), name)
            let result = SeedMeanAP.evaluate(images: images, thresholds: ours)
            for (i, e) in entries.enumerated() {
                let expected = doubles((e["ap"] as! [String: Any])[name])
                for t in ours.indices {
                    worst = max(worst, abs(Double(result.perImage[t][i]) - expected[t]))
                    XCTAssertEqual(Double(result.perImage[t][i]), expected[t], accuracy: 1e-6, "\(name) image \(i) threshold \(t)")
                }
            }
            for (ap, expected) in zip(result.averagePrecisions, doubles(dataset[name])) {
                worst = max(worst, abs(ap - expected))
                XCTAssertEqual(ap, expected, accuracy: 1e-6, name)
            }
            XCTAssertEqual(result.mean, double(dataset[name + "_map"]), accuracy: 1e-6, name)
        }
        // The data exercise the rules: empty images of both kinds and partial APs.
        let aps = result(images).perImage[0]
        XCTAssertTrue(aps.contains(1) && aps.contains(0) && aps.contains { $0 > 0 && $0 < 1 })
        print("seed mAP agreement with the seed's compute_ap: max |ours - seed| = \(worst)")
    }

    func result(_ images: [SeedMAPImage]) -> SeedMAPResult { SeedMeanAP.evaluate(images: images) }
}
