import ObjectDetection
import TensorCore
import XCTest

/// Anchors: the spec §3.1 table, counts, grid order, and parity with torchvision (fixture
/// anchors.safetensors; the grids are the seed's float-stride grids). Exact equality is required:
/// anchors are sums of small integers and float shifts computed the same way.
final class AnchorGeneratorTests: XCTestCase {
    func testThirtyCellAnchorsMatchSpecTable() {
        // Spec §3.1, rows = ratios (0.1, 0.25, 0.5, 1, 1.5, 2), columns = sizes (2, 4, 8, 16, 32).
        let table: [[Float]] = [
            [-3, 0, 3, 0], [-6, -1, 6, 1], [-13, -1, 13, 1], [-25, -3, 25, 3], [-51, -5, 51, 5],
            [-2, 0, 2, 0], [-4, -1, 4, 1], [-8, -2, 8, 2], [-16, -4, 16, 4], [-32, -8, 32, 8],
            [-1, -1, 1, 1], [-3, -1, 3, 1], [-6, -3, 6, 3], [-11, -6, 11, 6], [-23, -11, 23, 11],
            [-1, -1, 1, 1], [-2, -2, 2, 2], [-4, -4, 4, 4], [-8, -8, 8, 8], [-16, -16, 16, 16],
            [-1, -1, 1, 1], [-2, -2, 2, 2], [-3, -5, 3, 5], [-7, -10, 7, 10], [-13, -20, 13, 20],
            [-1, -1, 1, 1], [-1, -3, 1, 3], [-3, -6, 3, 6], [-6, -11, 6, 11], [-11, -23, 11, 23],
        ]
        let generator = AnchorGenerator()
        XCTAssertEqual(generator.anchorsPerLocation, 30)
        let cell = generator.cellAnchors()
        XCTAssertEqual(cell.shape, [30, 4])
        for (index, row) in table.enumerated() {
            XCTAssertEqual(Array(cell.scalars[(4 * index)..<(4 * index + 4)]), row, "anchor #\(index)")
        }
        // #0 and #5 are the degenerate zero-height anchors.
        XCTAssertEqual(BoxOperations.area(cell)[0], 0)
        XCTAssertEqual(BoxOperations.area(cell)[5], 0)
    }

    func testCellAnchorsMatchTorchvision() throws {
        let fixture = try Fixture("anchors")
        XCTAssertEqual(AnchorGenerator().cellAnchors().scalars, fixture.tensor("cell_anchors").scalars)
    }

    func testGridParityWithSeed() throws {
        let fixture = try Fixture("anchors")
        let generator = AnchorGenerator()
        let levels = generator.anchors(imageHeight: 32, imageWidth: 32,
                                       featureSizes: [(8, 8), (4, 4), (2, 2), (1, 1)])
        XCTAssertEqual(levels.map { $0.shape[0] }, [8 * 8 * 30, 4 * 4 * 30, 2 * 2 * 30, 30])
        XCTAssertEqual(levels.flatMap(\.scalars), fixture.tensor("grid_32").scalars)
        // Float strides 96/7 and 64/5 (only the seed defines these).
        let odd = generator.anchors(imageHeight: 96, imageWidth: 64, featureSizes: [(7, 5)])
        XCTAssertEqual(odd[0].scalars, fixture.tensor("grid_96x64_7x5").scalars)
    }

    func testGridOrderAndCornerCentring() {
        let generator = AnchorGenerator(sizes: [4], aspectRatios: [1, 2])
        let level = generator.anchors(imageHeight: 16, imageWidth: 32, featureSizes: [(2, 4)])[0]
        XCTAssertEqual(level.shape, [2 * 4 * 2, 4])
        // Row (y=1, x=2, a=1): stride 8 on both axes, shift (16, 8), base [-1, -3, 1, 3].
        let row = (1 * 4 + 2) * 2 + 1
        XCTAssertEqual(Array(level.scalars[(4 * row)..<(4 * row + 4)]), [15, 5, 17, 11])
        // The first anchor is centred on the image's top-left corner.
        XCTAssertEqual(Array(level.scalars[0..<4]), [-2, -2, 2, 2])
    }

    func testAnchorCountsFor512() {
        let generator = AnchorGenerator()
        let light = generator.anchors(imageHeight: 512, imageWidth: 512, featureSizes: [(32, 32)])
        XCTAssertEqual(light.reduce(0) { $0 + $1.shape[0] }, 30_720, "light t1")
        let r50 = generator.anchors(imageHeight: 512, imageWidth: 512,
                                    featureSizes: [(128, 128), (64, 64), (32, 32), (16, 16)])
        XCTAssertEqual(r50.reduce(0) { $0 + $1.shape[0] }, 652_800, "R50")
        // The cache returns the same grids for the same key.
        let again = generator.anchors(imageHeight: 512, imageWidth: 512, featureSizes: [(32, 32)])
        XCTAssertEqual(again[0].scalars, light[0].scalars)
        // Last anchor of the light grid: shift (31·16, 31·16), base #29 [-11, -23, 11, 23].
        XCTAssertEqual(Array(light[0].scalars.suffix(4)), [485, 473, 507, 519])
    }
}
