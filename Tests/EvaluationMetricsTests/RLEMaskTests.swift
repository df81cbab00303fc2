import Foundation
import XCTest
@testable import EvaluationMetrics

/// RLE encode/decode/area/bbox/merge/IoU and polygon rasterisation against pycocotools' answers
/// (Fixtures/rle_cases.json from Tools/make_coco_fixtures.py), plus hand cases.
final class RLEMaskTests: XCTestCase {
    var cases: [String: Any] = [:]

    override func setUpWithError() throws {
        cases = try Fixtures.json("rle_cases.json") as! [String: Any]
    }

    func mask(_ entry: [String: Any]) -> BinaryMask {
        let bits = Array((entry["bits"] as! String).utf8).map { $0 == UInt8(ascii: "1") ? UInt8(1) : 0 }
        return BinaryMask(height: int(entry["height"]), width: int(entry["width"]), pixels: bits)
    }

    func testEncodeMatchesPycocotoolsStrings() throws {
        let masks = cases["masks"] as! [[String: Any]]
        XCTAssertEqual(masks.count, 10)
        for entry in masks {
            let name = entry["name"] as! String
            let m = mask(entry)
            let rle = RLEMask(encoding: m)
            XCTAssertEqual(rle.compressedString, entry["counts"] as! String, name)
            XCTAssertEqual(rle.area, int(entry["area"]), name)
            XCTAssertEqual(rle.area, m.area, name)
            XCTAssertEqual(rle.boundingBox.array, doubles(entry["bbox"]), name)
            // Round trips: mask → RLE → string → RLE → mask.
            let parsed = try RLEMask(compressed: entry["counts"] as! String, height: m.height, width: m.width)
            XCTAssertEqual(parsed, rle, name)
            XCTAssertEqual(parsed.decoded(), m, name)
        }
    }

    func testWrappingRunSpansFullHeightInBoundingBox() throws {
        // pycocotools' rleToBbox quirk: a run from the bottom of one column into the next spans all rows.
        let entry = (cases["masks"] as! [[String: Any]]).first { $0["name"] as! String == "wrap" }!
        let box = RLEMask(encoding: mask(entry)).boundingBox
        XCTAssertEqual(box, COCOBox(x: 3, y: 0, width: 2, height: 48))
    }

    func testPolygonsMatchPycocotools() throws {
        let polygons = cases["polygons"] as! [[String: Any]]
        XCTAssertGreaterThan(polygons.count, 15)
        for entry in polygons {
            let name = entry["name"] as! String
            let h = int(entry["height"]), w = int(entry["width"])
            let parts = (entry["polygons"] as! [Any]).map { doubles($0) }
            let rle = try COCOEvaluator._toRLE(.polygons(parts), height: h, width: w, file: "t", key: "k")
            XCTAssertEqual(rle.compressedString, entry["counts"] as! String, name)
            XCTAssertEqual(rle.area, int(entry["area"]), name)
        }
    }

    func testBoxesMatchPycocotools() throws {
        for entry in cases["boxes"] as! [[String: Any]] {
            let b = doubles(entry["bbox"])
            let rle = RLEMask.fromBox(COCOBox(x: b[0], y: b[1], width: b[2], height: b[3]),
                                      height: int(entry["height"]), width: int(entry["width"]))
            XCTAssertEqual(rle.compressedString, entry["counts"] as! String, "\(b)")
        }
    }

    func testMergeMatchesPycocotools() throws {
        let merges = cases["merges"] as! [[String: Any]]
        XCTAssertEqual(merges.count, 7)
        for entry in merges {
            let h = int(entry["height"]), w = int(entry["width"])
            let a = try RLEMask(compressed: entry["a"] as! String, height: h, width: w)
            let b = try RLEMask(compressed: entry["b"] as! String, height: h, width: w)
            XCTAssertEqual(RLEMask.merge([a, b]).compressedString, entry["union"] as! String)
            XCTAssertEqual(RLEMask.merge([a, b], intersect: true).compressedString, entry["intersection"] as! String)
            // And the same as doing it pixel by pixel.
            let (da, db) = (a.decoded(), b.decoded())
            let union = BinaryMask(height: h, width: w, pixels: zip(da.pixels, db.pixels).map { $0 | $1 })
            XCTAssertEqual(RLEMask.merge([a, b]), RLEMask(encoding: union))
        }
    }

    func testMaskIoUMatchesPycocotools() throws {
        for entry in cases["mask_ious"] as! [[String: Any]] {
            let ds = ints(entry["dt_size"]), gs = ints(entry["gt_size"])
            let dts = try (entry["dt"] as! [String]).map { try RLEMask(compressed: $0, height: ds[0], width: ds[1]) }
            let gts = try (entry["gt"] as! [String]).map { try RLEMask(compressed: $0, height: gs[0], width: gs[1]) }
            let crowd = ints(entry["iscrowd"]).map { $0 != 0 }
            let expected = (entry["iou"] as! [Any]).map { doubles($0) }
            let ours = RLEMask.iou(detections: dts, groundTruths: gts, isCrowd: crowd)
            XCTAssertEqual(ours.count, expected.count)
            for (r, e) in zip(ours, expected) {
                for (x, y) in zip(r, e) { XCTAssertEqual(x, y, accuracy: 1e-15) }
            }
            XCTAssertTrue(expected.joined().contains { $0 > 0 && $0 < 1 }, "the case has partial overlaps")
        }
    }

    func testBoxIoUMatchesPycocotools() throws {
        for entry in cases["box_ious"] as! [[String: Any]] {
            func boxes(_ key: String) -> [COCOBox] {
                (entry[key] as! [Any]).map { let b = doubles($0); return COCOBox(x: b[0], y: b[1], width: b[2], height: b[3]) }
            }
            let ours = COCOBox.iou(detections: boxes("dt"), groundTruths: boxes("gt"),
                                   isCrowd: ints(entry["iscrowd"]).map { $0 != 0 })
            let expected = (entry["iou"] as! [Any]).map { doubles($0) }
            XCTAssertEqual(ours, expected)
        }
    }

    func testHandEncodedMask() throws {
        // 3×2 mask, rows [1 0] [1 1] [0 1]: column-major pixels 1 1 0 | 0 1 1 → runs 0,2,2,2.
        let m = BinaryMask(height: 3, width: 2, pixels: [1, 0, 1, 1, 0, 1])
        let rle = RLEMask(encoding: m)
        XCTAssertEqual(rle.counts, [0, 2, 2, 2])
        XCTAssertEqual(rle.area, 4)
        XCTAssertEqual(rle.decoded(), m)
        XCTAssertEqual(rle.boundingBox, COCOBox(x: 0, y: 0, width: 2, height: 3))
        // Runs 0,2,2,2: 0→'0', 2→'2', 2→'2', then 2-2=0 → '0'.
        XCTAssertEqual(rle.compressedString, "0220")
    }

    func testLargeAndNegativeDifferencesRoundTrip() throws {
        // Multi-character values and a negative difference (100_000 after 40_000... then 3 after 100_000).
        let rle = RLEMask(height: 512, width: 512, counts: [100_000, 3, 40_000, 100_000, 22_141])
        XCTAssertEqual(rle.decoded().area, 100_003)
        let parsed = try RLEMask(compressed: rle.compressedString, height: 512, width: 512)
        XCTAssertEqual(parsed.counts, rle.counts)
    }

    func testInvalidStringsThrow() {
        XCTAssertThrowsError(try RLEMask(compressed: "0~", height: 2, width: 2))   // '~' is outside '0'...'o'
        XCTAssertThrowsError(try RLEMask(compressed: "0P", height: 2, width: 2))   // ends inside a value ('P' = 32 = more)
    }
}
