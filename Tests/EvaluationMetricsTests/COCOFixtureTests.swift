import Foundation
import XCTest
@testable import EvaluationMetrics

/// Agreement with pycocotools on random ground truth and detections (Tools/make_coco_fixtures.py).
/// Tolerance 1e-6 absolute on every statistic and every entry of eval['recall'].
final class COCOFixtureTests: XCTestCase {
    static let tolerance = 1e-6

    func testAllSeedsAgreeWithPycocotools() throws {
        let expected = try Fixtures.json("coco_expected.json") as! [String: Any]
        let seeds = expected["seeds"] as! [String: Any]
        XCTAssertEqual(seeds.count, 5)
        var worst = 0.0
        var objects = 0
        for seed in seeds.keys.sorted() {
            let entry = seeds[seed] as! [String: Any]
            let counts = entry["objects"] as! [String: Any]
            objects += int(counts["gt"]) + int(counts["dt"])
            let gt = try COCOGroundTruth(contentsOf: Fixtures.url("coco_gt_\(seed).json"))
            let dt = try COCODetections(contentsOf: Fixtures.url("coco_dt_\(seed).json"), groundTruth: gt)
            XCTAssertEqual(gt.annotations.count, int(counts["gt"]))
            XCTAssertEqual(dt.annotations.count, int(counts["dt"]))
            for iouType in COCOIoUType.allCases {
                let reference = entry[iouType.rawValue] as! [String: Any]
                let result = try COCOEvaluator.evaluate(groundTruth: gt, detections: dt, iouType: iouType)
                let stats = doubles(reference["stats"])
                XCTAssertEqual(result.statistics.values.count, 12)
                for (i, (ours, theirs)) in zip(result.statistics.values, stats).enumerated() {
                    worst = max(worst, abs(ours - theirs))
                    XCTAssertEqual(ours, theirs, accuracy: Self.tolerance,
                                   "seed \(seed) \(iouType) stat \(i) (\(COCOStatistics.names[i]))")
                }
                let recall = doubles(reference["recall"])
                XCTAssertEqual(ints(reference["recall_shape"]), [10, 3, 4, 3])
                XCTAssertEqual(result.recall.count, recall.count)
                for (i, (ours, theirs)) in zip(result.recall, recall).enumerated() {
                    worst = max(worst, abs(ours - theirs))
                    XCTAssertEqual(ours, theirs, accuracy: Self.tolerance, "seed \(seed) \(iouType) recall[\(i)]")
                }
            }
        }
        XCTAssertGreaterThan(objects, 1000)
        // Seed 55 has no large object: pycocotools reports -1 there, and so must we.
        let seed55 = (seeds["55"] as! [String: Any])["segm"] as! [String: Any]
        XCTAssertEqual(doubles(seed55["stats"])[5], -1)
        print("COCO fixture agreement: max |ours - pycocotools| = \(worst) over \(seeds.count) seeds, \(objects) objects")
    }

    /// The fixtures are built so that every rule is exercised; check they really are.
    func testFixturesCoverTheRules() throws {
        var crowd = 0, polygons = 0, emptyImages = 0, imagesWithoutDetections = 0, over100 = 0
        var boxBranch = 0, maskBranch = 0, foreignCategory = 0
        var areas = Set<String>()
        for seed in ["11", "22", "33", "44", "55"] {
            let gt = try COCOGroundTruth(contentsOf: Fixtures.url("coco_gt_\(seed).json"))
            let dt = try COCODetections(contentsOf: Fixtures.url("coco_dt_\(seed).json"), groundTruth: gt)
            crowd += gt.annotations.filter(\.isCrowd).count
            polygons += gt.annotations.filter { if case .polygons? = $0.segmentation { return true } else { return false } }.count
            let gtImages = Set(gt.annotations.map(\.imageID)), dtImages = Set(dt.annotations.map(\.imageID))
            emptyImages += gt.images.filter { !gtImages.contains($0.id) }.count
            imagesWithoutDetections += gt.images.filter { !dtImages.contains($0.id) }.count
            over100 += Dictionary(grouping: dt.annotations, by: { "\($0.imageID)/\($0.categoryID)" }).values.filter { $0.count > 100 }.count
            foreignCategory += dt.annotations.filter { !gt.categoryIDs.contains($0.categoryID) }.count
            // The loadRes branch: box area (fractional) vs mask area (integral).
            if dt.annotations.contains(where: { $0.area != $0.area.rounded() }) { boxBranch += 1 } else { maskBranch += 1 }
            for a in gt.annotations {
                areas.insert(a.area < 1024 ? "small" : a.area <= 9216 ? "medium" : "large")
                if a.area == 1024 || a.area == 9216 { areas.insert("boundary") }
            }
        }
        XCTAssertGreaterThan(crowd, 5)
        XCTAssertGreaterThan(polygons, 100)
        XCTAssertGreaterThan(emptyImages, 5)
        XCTAssertGreaterThan(imagesWithoutDetections, 5)
        XCTAssertGreaterThanOrEqual(over100, 1)
        XCTAssertGreaterThan(foreignCategory, 0)
        XCTAssertEqual(boxBranch, 2)
        XCTAssertEqual(maskBranch, 3)
        XCTAssertEqual(areas, ["small", "medium", "large", "boundary"])
    }
}
