import Foundation
import ImageIO
import TensorCore
import XCTest
@testable import CTDatasets

/// The segmentation layout (pairing, checks, lazy samples) and the COVIDx-CT classification naming.
final class DatasetLayoutTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ctdatasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    private func folder(_ path: String) throws -> URL {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes a grey image and a mask with one 12x12 GGO block at (row, column).
    private func writePair(_ stem: String, imageExtension: String = "png", size: Int = 32, blockAt: (Int, Int)? = (4, 6),
                           maskSize: Int? = nil) throws {
        let images = try folder("seg/imgs"), masks = try folder("seg/masks")
        let pixels = (0..<(size * size)).map { UInt8($0 % 251) }
        try PNGEncoder.write(bytes: pixels, width: size, height: size, channels: 1,
                             to: images.appendingPathComponent("\(stem).\(imageExtension)"))
        let side = maskSize ?? size
        var mask = LabelMap(width: side, height: side, repeating: 1)
        if let (r0, c0) = blockAt { for r in r0..<(r0 + 12) { for c in c0..<(c0 + 12) { mask[r, c] = 2 } } }
        try PNGEncoder.write(mask, to: masks.appendingPathComponent("\(stem).png"))
    }

    func testPairsByBasenameAndLoadsLazily() throws {
        try writePair("3_10")
        try writePair("3_2", blockAt: nil)
        try writePair("10_1")
        let dataset = try SegmentationDataset(root: root.appendingPathComponent("seg"))
        XCTAssertEqual(dataset.count, 3)
        XCTAssertEqual(dataset.imageNames, ["10_1.png", "3_10.png", "3_2.png"])
        try dataset.validate()
        let sample = try dataset.sample(at: 1)
        XCTAssertEqual(sample.name, "3_10.png")
        XCTAssertEqual(sample.image.shape, [3, 32, 32])
        XCTAssertEqual(sample.boxes.shape, [1, 4])
        XCTAssertEqual(sample.boxes.scalars, [6, 4, 18, 16])
        XCTAssertEqual(sample.labels, [1])
        XCTAssertEqual(sample.masks.shape, [1, 32, 32])
        XCTAssertEqual(sample.masks.scalars.reduce(0, +), 144)
        // Grey replicated: the three planes are equal, and equal to the stored bytes / 255.
        let planes = sample.image.scalars
        XCTAssertEqual(Array(planes[0..<1024]), Array(planes[1024..<2048]))
        XCTAssertEqual(planes[5], Float(5) / 255)
        let empty = try dataset.sample(at: 2)
        XCTAssertEqual(empty.boxes.shape, [0, 4])
        XCTAssertEqual(empty.masks.shape, [0, 32, 32])
    }

    func testJPEGImagesPairWithPNGMasks() throws {
        // The CNCB layout: imgs/*.jpg with masks/*.png of the same basename. The JPEG is ImageIO's fixture.
        let jpeg = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../ImageIOTests/Fixtures/grey.jpg").standardizedFileURL
        let images = try folder("cncb/imgs"), masks = try folder("cncb/masks")
        try FileManager.default.copyItem(at: jpeg, to: images.appendingPathComponent("7_1.jpg"))
        var mask = LabelMap(width: 16, height: 12, repeating: 1)
        for r in 1..<12 { for c in 2..<12 { mask[r, c] = 3 } }
        try PNGEncoder.write(mask, to: masks.appendingPathComponent("7_1.png"))
        let dataset = try SegmentationDataset(root: root.appendingPathComponent("cncb"), split: ["7_1.jpg"])
        XCTAssertEqual(dataset.maskNames, ["7_1.png"])
        try dataset.validate()
        let sample = try dataset.sample(at: 0)
        XCTAssertEqual(sample.labels, [2])
        XCTAssertEqual(sample.boxes.scalars, [2, 1, 12, 12])
        XCTAssertEqual(sample.image.scalars, try ImageDecoder.decode(contentsOf: jpeg).modelInput().scalars)
    }

    func testUnpairedFilesAreListed() throws {
        try writePair("1_1")
        try writePair("1_2")
        try FileManager.default.removeItem(at: root.appendingPathComponent("seg/masks/1_2.png"))
        try PNGEncoder.write(LabelMap(width: 4, height: 4), to: root.appendingPathComponent("seg/masks/9_9.png"))
        XCTAssertThrowsError(try SegmentationDataset(root: root.appendingPathComponent("seg"))) { error in
            guard case DatasetError.unpairedFiles(_, _, let noMask, let noImage) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(noMask, ["1_2.png"])
            XCTAssertEqual(noImage, ["9_9.png"])
            XCTAssertTrue("\(error)".contains("1_2.png") && "\(error)".contains("9_9.png"))
        }
    }

    func testDuplicateBasenamesEmptyFoldersAndStrayFiles() throws {
        try writePair("1_1")
        try writePair("1_1", imageExtension: "jpg")   // a PNG named .jpg: two images share the basename 1_1
        XCTAssertThrowsError(try SegmentationDataset(root: root.appendingPathComponent("seg"))) { error in
            XCTAssertEqual(error as? DatasetError,
                           .duplicateNames(folder: root.appendingPathComponent("seg/imgs").path, names: ["1_1.jpg", "1_1.png"]))
        }
        _ = try folder("empty/imgs"); _ = try folder("empty/masks")
        XCTAssertThrowsError(try SegmentationDataset(root: root.appendingPathComponent("empty"))) { error in
            XCTAssertEqual(error as? DatasetError, .emptyFolder(path: root.appendingPathComponent("empty/imgs").path))
        }
        XCTAssertThrowsError(try SegmentationDataset(root: root.appendingPathComponent("absent"))) { error in
            XCTAssertEqual(error as? DatasetError, .missingFolder(path: root.appendingPathComponent("absent/imgs").path))
        }
        try Data("x".utf8).write(to: root.appendingPathComponent("seg/masks/notes.txt"))
        XCTAssertThrowsError(try SegmentationDataset(root: root.appendingPathComponent("seg"))) { error in
            guard case DatasetError.unexpectedFiles(_, let names) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(names, ["notes.txt"])
        }
    }

    func testSplitNamesMustAllExistAndAllMissingAreListed() throws {
        try writePair("2_1")
        try writePair("2_2")
        XCTAssertThrowsError(try SegmentationDataset(root: root.appendingPathComponent("seg"),
                                                     split: ["2_2.png", "5_1.png", "2_1.png", "6_6.png"],
                                                     splitFile: "test_split.txt")) { error in
            guard case DatasetError.missingSplitNames(let file, _, let names) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "test_split.txt")
            XCTAssertEqual(names, ["5_1.png", "6_6.png"])
        }
        let subset = try SegmentationDataset(root: root.appendingPathComponent("seg"), split: ["2_2.png"])
        XCTAssertEqual(subset.count, 1)
    }

    func testValidateFindsSizeMismatchAndBadValuesUpFront() throws {
        try writePair("1_1")
        try writePair("1_2", maskSize: 16)
        try writePair("1_3")
        var bad = LabelMap(width: 32, height: 32, repeating: 1)
        bad[3, 3] = 9
        try PNGEncoder.write(bad, to: root.appendingPathComponent("seg/masks/1_3.png"))
        let dataset = try SegmentationDataset(root: root.appendingPathComponent("seg"))
        XCTAssertThrowsError(try dataset.validate()) { error in
            guard case DatasetError.problems(_, let lines) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(lines.count, 2)
            XCTAssertTrue(lines[0].contains("1_2.png") && lines[0].contains("16x16"))
            XCTAssertTrue(lines[1].contains("1_3.png") && lines[1].contains("9"))
        }
        XCTAssertThrowsError(try dataset.sample(at: 1)) { error in
            guard case DatasetError.sizeMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try dataset.sample(at: 2)) { error in
            XCTAssertEqual(error as? DatasetError,
                           .unknownMaskValues(path: root.appendingPathComponent("seg/masks/1_3.png").path, values: [9]))
        }
    }

    func testCorruptImageErrorNamesTheFile() throws {
        try writePair("1_1")
        let image = root.appendingPathComponent("seg/imgs/1_1.png")
        let data = try Data(contentsOf: image)
        try data.prefix(40).write(to: image)
        let dataset = try SegmentationDataset(root: root.appendingPathComponent("seg"))
        XCTAssertThrowsError(try dataset.sample(at: 0)) { error in
            XCTAssertEqual((error as? ImageIOError)?.path, image.path)
        }
    }

    // MARK: - Classification naming

    func testParsesCOVIDxNames() throws {
        let name = try XCTUnwrap(COVIDxSliceName("0_1728_1013_0023.png"))
        XCTAssertEqual(name.label, .control)
        XCTAssertEqual(name.patient, "1728")
        XCTAssertEqual(name.scan, "1013")
        XCTAssertEqual(name.slice, "0023")
        XCTAssertEqual(COVIDxSliceName("2_5_6_7.png")?.label, .covid19)
        XCTAssertEqual(COVIDxSliceName("1_5_6_7.jpg")?.label, .commonPneumonia)
        for bad in ["3_1_2_3.png", "x_1_2_3.png", "0_1_2.png", "0_1_2_3_4.png", "0__2_3.png", "NCP_96_1328_0032.png"] {
            XCTAssertNil(COVIDxSliceName(bad), bad)
        }
        XCTAssertEqual(COVIDxSliceName(label: .covid19, patient: "12", scan: "34", slice: 5).fileName(), "2_12_34_0005.png")
    }

    func testClassificationFolderRejectsUnparsableNamesListingAll() throws {
        let folder = try folder("cls")
        for name in ["0_1_1_0001.png", "2_3_4_0002.png", "scan.png", "1-2-3-4.png"] {
            try PNGEncoder.write(LabelMap(width: 8, height: 8), to: folder.appendingPathComponent(name))
        }
        XCTAssertThrowsError(try ClassificationDataset(folder: folder)) { error in
            guard case DatasetError.unparsableNames(_, let names, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(names, ["1-2-3-4.png", "scan.png"])
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("scan.png"))
        try FileManager.default.removeItem(at: folder.appendingPathComponent("1-2-3-4.png"))
        let dataset = try ClassificationDataset(folder: folder, resize: .exact(width: 16, height: 12))
        XCTAssertEqual(dataset.count, 2)
        XCTAssertEqual(dataset.classCounts, [.control: 1, .covid19: 1])
        let sample = try dataset.sample(at: 1)
        XCTAssertEqual(sample.label, .covid19)
        XCTAssertEqual(sample.oneHot, [0, 0, 1])
        XCTAssertEqual(sample.image.shape, [3, 12, 16])
        let shorter = try ClassificationDataset(folder: folder, resize: .shorterSide(20)).sample(at: 0)
        XCTAssertEqual(shorter.image.shape, [3, 20, 20])
        XCTAssertThrowsError(try ClassificationDataset(folder: folder, split: ["2_3_4_0002.png", "1_9_9_0001.png"])) { error in
            guard case DatasetError.missingSplitNames(_, _, let names) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(names, ["1_9_9_0001.png"])
        }
        try PNGEncoder.write(LabelMap(width: 8, height: 8), to: folder.appendingPathComponent("0_1_1_0001.jpg"))
        XCTAssertThrowsError(try ClassificationDataset(folder: folder)) { error in
            guard case DatasetError.duplicateNames(_, let names) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(names, ["0_1_1_0001.jpg", "0_1_1_0001.png"])
        }
    }

    func testModelInputReplicatesGrey() {
        let image = Image(width: 2, height: 1, channels: 1, pixels: [0.25, 0.5])
        let tensor = image.modelInput()
        XCTAssertEqual(tensor.shape, [3, 1, 2])
        XCTAssertEqual(tensor.scalars, [0.25, 0.5, 0.25, 0.5, 0.25, 0.5])
        let rgba = Image(width: 1, height: 1, channels: 4, pixels: [0.1, 0.2, 0.3, 0.9])
        XCTAssertEqual(rgba.modelInput().scalars, [0.1, 0.2, 0.3])
    }
}
