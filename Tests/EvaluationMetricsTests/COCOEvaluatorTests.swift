import Foundation
import XCTest
@testable import EvaluationMetrics

/// COCO evaluation details beyond the fixture statistics: printed layout, JSON, errors, results writing.
final class COCOEvaluatorTests: XCTestCase {
    func load(_ seed: String) throws -> (COCOGroundTruth, COCODetections) {
        let gt = try COCOGroundTruth(contentsOf: Fixtures.url("coco_gt_\(seed).json"))
        return (gt, try COCODetections(contentsOf: Fixtures.url("coco_dt_\(seed).json"), groundTruth: gt))
    }

    func testSummaryTextEqualsPycocotoolsPrintout() throws {
        let expected = try Fixtures.json("coco_expected.json") as! [String: Any]
        let seeds = expected["seeds"] as! [String: Any]
        for seed in ["22", "55"] {
            let (gt, dt) = try load(seed)
            for iouType in COCOIoUType.allCases {
                let reference = (seeds[seed] as! [String: Any])[iouType.rawValue] as! [String: Any]
                let result = try COCOEvaluator.evaluate(groundTruth: gt, detections: dt, iouType: iouType)
                XCTAssertEqual(result.statistics.summaryText, reference["summary"] as? String, "seed \(seed) \(iouType)")
            }
        }
    }

    func testJSONOutputListsTheTwelveStatisticsInOrder() throws {
        let stats = COCOStatistics(iouType: .segm, values: [0.5, 0.25, -1, 0, 1, 0.125, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7])
        XCTAssertEqual(stats.jsonText, #"{"iouType": "segm", "AP": 0.5, "AP50": 0.25, "AP75": -1.0, "APs": 0.0, "APm": 1.0, "APl": 0.125, "AR1": 0.1, "AR10": 0.2, "AR100": 0.3, "ARs": 0.4, "ARm": 0.6, "ARl": 0.7}"# + "\n")
        let object = try JSONSerialization.jsonObject(with: Data(stats.jsonText.utf8)) as! [String: Any]
        XCTAssertEqual(object.count, 13)
        XCTAssertEqual(stats["AP50"], 0.25)
        XCTAssertNil(stats["AP60"])
    }

    func testParametersAreNumpyLinspaceValues() {
        let p = COCOEvaluationParameters()
        XCTAssertEqual(p.iouThresholds, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95])
        XCTAssertEqual(p.recallThresholds.count, 101)
        XCTAssertEqual(p.recallThresholds[7], 0.07)
        XCTAssertEqual(p.recallThresholds[100], 1)
    }

    func testNumpyMeanIsPairwise() {
        // Values from numpy 2.4: np.mean(np.full(1000, 0.1)) and np.mean([0.1] * 1000 + [0.7] * 37);
        // left-to-right summation gives 0.09999999999999859 and 0.12140790742526393 instead.
        let values = [Double](repeating: 0.1, count: 1000)
        XCTAssertEqual(numpyMean(values), 0.10000000000000002)
        XCTAssertEqual(values.reduce(0, +) / 1000, 0.09999999999999859)
        XCTAssertEqual(numpyMean(values + [Double](repeating: 0.7, count: 37)), 0.1214079074252652)
        XCTAssertEqual(numpyMean([1, 2, 3]), 2)
    }

    func testHandCaseCrowdAndAreaRanges() throws {
        // One 10×10 image, category 1: a regular gt box and a crowd box; detections: a perfect hit on the
        // regular gt (score .9), one inside the crowd (score .8, ignored), one FP elsewhere (score .7).
        let gt = COCOGroundTruth(images: [COCOImage(id: 1, height: 10, width: 10)], categoryIDs: [1], annotations: [
            COCOAnnotation(id: 1, imageID: 1, categoryID: 1, area: 4, bbox: COCOBox(x: 0, y: 0, width: 2, height: 2)),
            COCOAnnotation(id: 2, imageID: 1, categoryID: 1, area: 16, bbox: COCOBox(x: 5, y: 5, width: 4, height: 4), isCrowd: true),
        ])
        let dt = COCODetections(annotations: [
            COCOAnnotation(id: 1, imageID: 1, categoryID: 1, area: 4, bbox: COCOBox(x: 0, y: 0, width: 2, height: 2), score: 0.9),
            COCOAnnotation(id: 2, imageID: 1, categoryID: 1, area: 1, bbox: COCOBox(x: 6, y: 6, width: 1, height: 1), score: 0.8),
            COCOAnnotation(id: 3, imageID: 1, categoryID: 1, area: 1, bbox: COCOBox(x: 0, y: 8, width: 1, height: 1), score: 0.7),
        ])
        let result = try COCOEvaluator.evaluate(groundTruth: gt, detections: dt, iouType: .bbox)
        // TP first, then the ignored crowd hit, then the FP: precision 1 up to recall 1 → AP 1 at every IoU.
        // (precision is tp / (tp + fp + eps), so "1" is 1 − 2.2e-16 as in pycocotools)
        XCTAssertEqual(result.statistics.values[0], 1, accuracy: 1e-12)
        XCTAssertEqual(result.statistics.values[8], 1)
        // maxDets=1 keeps only the TP: AR1 = 1.
        XCTAssertEqual(result.statistics.values[6], 1)
        // No medium/large gt: −1.
        XCTAssertEqual(result.statistics.values[4], -1)
        XCTAssertEqual(result.statistics.values[5], -1)
        // If the FP scores highest, precision at recall 1 is 1/2 → AP 0.5.
        var swapped = dt
        swapped.annotations[2].score = 0.95
        let worse = try COCOEvaluator.evaluate(groundTruth: gt, detections: swapped, iouType: .bbox)
        XCTAssertEqual(worse.statistics.values[0], 0.5, accuracy: 1e-12)
        // pycocotools 2.0.11 on the same data (printed with repr):
        XCTAssertEqual(result.statistics.values, [0.9999999999999998, 0.9999999999999999, 0.9999999999999999,
                                                  0.9999999999999998, -1, -1, 1, 1, 1, 1, -1, -1])
        XCTAssertEqual(worse.statistics.values, [0.5, 0.5, 0.5, 0.5, -1, -1, 0, 1, 1, 1, -1, -1])
    }

    func testErrorsNameFileAndKey() throws {
        let gtJSON = #"{"images": [{"id": 1, "height": 4, "width": 4}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 4, "bbox": [0, 0, 2]}]}"#
        XCTAssertThrowsError(try COCOGroundTruth(jsonData: Data(gtJSON.utf8), source: "gt.json")) { error in
            let e = error as! COCOFormatError
            XCTAssertEqual(e.file, "gt.json")
            XCTAssertEqual(e.key, "annotations[0].bbox")
            XCTAssertTrue(e.description.hasPrefix("gt.json: annotations[0].bbox: "))
        }
        let noArea = #"{"images": [{"id": 1, "height": 4, "width": 4}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1}]}"#
        XCTAssertThrowsError(try COCOGroundTruth(jsonData: Data(noArea.utf8), source: "gt.json")) { error in
            XCTAssertEqual((error as! COCOFormatError).key, "annotations[0].area")
        }
        let gt = try COCOGroundTruth(jsonData: Data(#"{"images": [{"id": 1, "height": 4, "width": 4}], "categories": [{"id": 1}], "annotations": []}"#.utf8), source: "gt.json")
        XCTAssertThrowsError(try COCODetections(jsonData: Data(#"[{"image_id": 7, "category_id": 1, "score": 1, "bbox": [0, 0, 1, 1]}]"#.utf8), source: "dt.json", groundTruth: gt)) { error in
            let e = error as! COCOFormatError
            XCTAssertEqual(e.file, "dt.json")
            XCTAssertEqual(e.key, "[0].image_id")
        }
        XCTAssertThrowsError(try COCODetections(jsonData: Data(#"[{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [4, 4], "counts": "0~"}}]"#.utf8), source: "dt.json", groundTruth: gt)) { error in
            XCTAssertEqual((error as! COCOFormatError).key, "[0].segmentation.counts")
        }
        // A polygon of two points is refused (pycocotools fails on it too).
        let badPolygon = #"{"images": [{"id": 1, "height": 4, "width": 4}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 1, "segmentation": [[0, 0, 2, 2]]}]}"#
        let bad = try COCOGroundTruth(jsonData: Data(badPolygon.utf8), source: "gt.json")
        XCTAssertThrowsError(try COCOEvaluator.evaluate(groundTruth: bad, detections: COCODetections(annotations: []), iouType: .segm)) { error in
            XCTAssertEqual((error as! COCOFormatError).key, "annotations[0].segmentation[0]")
        }
        // bbox evaluation without a gt box names the annotation.
        let noBox = #"{"images": [{"id": 1, "height": 4, "width": 4}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 1, "segmentation": [[0, 0, 2, 0, 2, 2]]}]}"#
        let nb = try COCOGroundTruth(jsonData: Data(noBox.utf8), source: "gt.json")
        XCTAssertThrowsError(try COCOEvaluator.evaluate(groundTruth: nb, detections: COCODetections(annotations: []), iouType: .bbox)) { error in
            XCTAssertEqual((error as! COCOFormatError).description, "gt.json: annotations[0].bbox: missing; bbox evaluation needs a box for every annotation")
        }
    }

    func testWrittenResultsReadBackToTheSameEvaluation() throws {
        for seed in ["11", "22"] {
            let (gt, dt) = try load(seed)
            let boxBranch = seed == "22"  // the fixture's seed 22 results carry boxes
            let results = dt.annotations.map { a -> COCOResult in
                guard case .rle(let mask)? = a.segmentation else { fatalError("fixture results are RLE") }
                return COCOResult(imageID: a.imageID, categoryID: a.categoryID, score: a.score,
                                  bbox: boxBranch ? a.bbox : nil, segmentation: mask)
            }
            let data = try COCOResult.jsonData(results)
            let reread = try COCODetections(jsonData: data, source: "written.json", groundTruth: gt)
            XCTAssertEqual(reread.annotations, dt.annotations)
            for iouType in COCOIoUType.allCases {
                XCTAssertEqual(try COCOEvaluator.evaluate(groundTruth: gt, detections: reread, iouType: iouType).statistics,
                               try COCOEvaluator.evaluate(groundTruth: gt, detections: dt, iouType: iouType).statistics)
            }
        }
        // The segmentation object has pycocotools' shape.
        let mask = RLEMask(encoding: BinaryMask(height: 3, width: 2, pixels: [1, 0, 1, 1, 0, 1]))
        let text = String(decoding: try COCOResult.jsonData([COCOResult(imageID: 4, categoryID: 2, score: 0.5, segmentation: mask)]), as: UTF8.self)
        XCTAssertEqual(text, #"[{"category_id":2,"image_id":4,"score":0.5,"segmentation":{"counts":"0220","size":[3,2]}}]"#)
    }
}
