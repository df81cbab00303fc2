import Foundation
import ImageIO
import XCTest
@testable import CTDatasets

/// Connected components, area filter, boxes, ordering and mask_type mappings on hand-made masks (spec §1.1.4).
final class InstanceExtractionTests: XCTestCase {
    /// A mask from rows of characters: '.' 0, 'L' 1, 'G' 2, 'C' 3.
    private func mask(_ rows: [String]) -> LabelMap {
        let codes: [Character: UInt8] = [".": 0, "L": 1, "G": 2, "C": 3]
        let width = rows[0].count
        return LabelMap(width: width, height: rows.count, values: rows.flatMap { $0.map { codes[$0]! } })
    }

    /// A `height × width` mask with rectangles of `value` filled in (rows and columns inclusive ranges).
    private func rectangles(width: Int, height: Int, _ boxes: [(rows: ClosedRange<Int>, columns: ClosedRange<Int>, value: UInt8)]) -> LabelMap {
        var map = LabelMap(width: width, height: height, repeating: 1)
        for box in boxes { for r in box.rows { for c in box.columns { map[r, c] = box.value } } }
        return map
    }

    func testDiagonalNeighboursJoinOnlyWithEightConnectivity() throws {
        let m = mask(["GG..",
                      "GG..",
                      "..GG",
                      "..GG"])
        let eight = try InstanceExtraction(areaThreshold: 0, connectivity: .eight).instances(of: m, path: "m.png")
        let four = try InstanceExtraction(areaThreshold: 0, connectivity: .four).instances(of: m, path: "m.png")
        XCTAssertEqual(eight.count, 1)
        XCTAssertEqual(eight[0].area, 8)
        XCTAssertEqual(eight[0].box, [0, 0, 4, 4])
        XCTAssertEqual(four.count, 2)
        XCTAssertEqual(four.map(\.box), [[0, 0, 2, 2], [2, 2, 4, 4]])
    }

    func testAreaFilterIsStrict() throws {
        // 10x10 = 100 px (dropped) and 101 px (kept) with the default threshold 100.
        var m = rectangles(width: 40, height: 20, [(0...9, 0...9, 2), (0...9, 20...29, 2)])
        m[10, 20] = 2   // one more pixel below the second block: 101 px
        let instances = try InstanceExtraction().instances(of: m, path: "m.png")
        XCTAssertEqual(instances.count, 1)
        XCTAssertEqual(instances[0].area, 101)
        XCTAssertEqual(instances[0].box, [20, 0, 30, 11])
        let all = try InstanceExtraction(areaThreshold: 99).instances(of: m, path: "m.png")
        XCTAssertEqual(all.map(\.area), [100, 101])
    }

    func testBoxesAreHalfOpenAndMasksMarkTheComponent() throws {
        let m = rectangles(width: 12, height: 8, [(2...4, 3...7, 3)])
        let instance = try XCTUnwrap(InstanceExtraction(areaThreshold: 1).instances(of: m, path: "m.png").first)
        XCTAssertEqual(instance.box, [3, 2, 8, 5])
        XCTAssertEqual(instance.label, 2)
        XCTAssertEqual(instance.mask.reduce(0) { $0 + Int($1) }, 15)
        XCTAssertEqual(instance.mask[2 * 12 + 3], 1)
        XCTAssertEqual(instance.mask[2 * 12 + 2], 0)
        XCTAssertEqual(instance.mask[5 * 12 + 3], 0)
    }

    func testInstancesOrderedByClassThenRasterOrder() throws {
        // Consolidation first in raster order, then two GGO blobs; GGO (label 1) must come first.
        let m = mask(["CC....G",
                      "CC....G",
                      "..GG...",
                      "..GG..."])
        let instances = try InstanceExtraction(areaThreshold: 1, connectivity: .four).instances(of: m, path: "m.png")
        XCTAssertEqual(instances.map(\.label), [1, 1, 2])
        // Raster order of first pixel: the right column blob (row 0, col 6) before the middle block (row 2).
        XCTAssertEqual(instances.map(\.box), [[6, 0, 7, 2], [2, 2, 4, 4], [0, 0, 2, 2]])
    }

    func testMaskTypeMappings() throws {
        // A GGO block touching a consolidation block.
        let m = mask(["GGCC",
                      "GGCC",
                      "....",
                      "LLLL"])
        let both = try InstanceExtraction(maskType: .both, areaThreshold: 1).instances(of: m, path: "m.png")
        XCTAssertEqual(both.map(\.label), [1, 2])
        XCTAssertEqual(both.map(\.box), [[0, 0, 2, 2], [2, 0, 4, 2]])
        let ggo = try InstanceExtraction(maskType: .ggo, areaThreshold: 1).instances(of: m, path: "m.png")
        XCTAssertEqual(ggo.map(\.label), [1])
        XCTAssertEqual(ggo.map(\.box), [[0, 0, 2, 2]])
        let merge = try InstanceExtraction(maskType: .merge, areaThreshold: 1).instances(of: m, path: "m.png")
        XCTAssertEqual(merge.map(\.label), [1])
        XCTAssertEqual(merge.map(\.box), [[0, 0, 4, 2]])
        XCTAssertEqual(merge[0].area, 8)
        XCTAssertEqual(MaskType.both.classCount, 3)
        XCTAssertEqual(MaskType.merge.classCount, 2)
    }

    func testConsolidationWithoutGGOKeepsItsOwnLabel() throws {
        // The original's positional labelling (bug B1) would call this label 1; the explicit mapping gives 2.
        let m = mask(["CC", "CC"])
        XCTAssertEqual(try InstanceExtraction(areaThreshold: 1).instances(of: m, path: "m.png").map(\.label), [2])
    }

    func testUnknownValuesAreAnErrorNamingFileAndValues() {
        var m = mask(["GG", "LL"])
        m[0, 0] = 255
        m[1, 1] = 7
        XCTAssertThrowsError(try InstanceExtraction().instances(of: m, path: "/data/masks/12_3.png")) { error in
            XCTAssertEqual(error as? DatasetError, .unknownMaskValues(path: "/data/masks/12_3.png", values: [7, 255]))
            XCTAssertTrue("\(error)".contains("/data/masks/12_3.png"))
            XCTAssertTrue("\(error)".contains("255"))
        }
    }

    func testNoLesionsGivesEmptyTargets() throws {
        let m = mask(["LL..", "LL.."])
        let instances = try InstanceExtraction().instances(of: m, path: "m.png")
        XCTAssertTrue(instances.isEmpty)
    }
}
