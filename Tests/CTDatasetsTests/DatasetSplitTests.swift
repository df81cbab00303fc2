import Foundation
import XCTest
@testable import CTDatasets

/// Split files: reading, writing, seeded group splits, and the paper's own split files (spec §1.4).
final class DatasetSplitTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("splits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// The seed's split files: `../shared/seed-splits` next to the repository root (found by walking up from
    /// this file to Package.swift). They are never copied into the repository.
    static func seedSplits() throws -> URL {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            let parent = folder.deletingLastPathComponent()
            guard parent.path != folder.path else { throw XCTSkip("no Package.swift above \(#filePath)") }
            folder = parent
        }
        let splits = folder.appendingPathComponent("../shared/seed-splits").standardizedFileURL
        guard FileManager.default.fileExists(atPath: splits.appendingPathComponent("train_split_segmentation.txt").path) else {
            XCTFail("the seed split files are expected in \(splits.path) (the repository is cloned next to shared/)")
            throw XCTSkip("seed splits missing")
        }
        return splits
    }

    func testWriteThenReadRoundTrips() throws {
        let names = ["0_1.jpg", "10_2.jpg", "3_4.jpg"]
        let url = root.appendingPathComponent("split.txt")
        try DatasetSplit.write(names, to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "0_1.jpg\n10_2.jpg\n3_4.jpg\n")
        XCTAssertEqual(try DatasetSplit.read(from: url), names)
    }

    func testReadListsEveryMissingNameAndRejectsDuplicates() throws {
        let data = root.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for name in ["a.png", "c.png"] { try Data().write(to: data.appendingPathComponent(name)) }
        let url = root.appendingPathComponent("split.txt")
        try DatasetSplit.write(["a.png", "b.png", "c.png", "d.png"], to: url)
        XCTAssertThrowsError(try DatasetSplit.read(from: url, checkingFolder: data)) { error in
            XCTAssertEqual(error as? DatasetError, .missingSplitNames(splitFile: url.path, folder: data.path,
                                                                      names: ["b.png", "d.png"]))
        }
        try Data("a.png\nc.png\na.png\n".utf8).write(to: url)
        XCTAssertThrowsError(try DatasetSplit.read(from: url)) { error in
            XCTAssertEqual(error as? DatasetError, .duplicateSplitNames(splitFile: url.path, names: ["a.png"]))
        }
        XCTAssertThrowsError(try DatasetSplit.read(from: root.appendingPathComponent("absent.txt"))) { error in
            guard case DatasetError.splitFileUnreadable(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("absent.txt"))
        }
    }

    func testRandomPatientSplitKeepsPatientsOnOneSideAndIsSeeded() throws {
        let names = try DatasetSplit.read(from: Self.seedSplits().appendingPathComponent("train_split_classification.txt"))
        let parts = try DatasetSplit.random(names: names, fractions: [0.7, 0.15, 0.15], seed: 42, unit: .classificationPatient)
        XCTAssertEqual(parts.map(\.count).reduce(0, +), names.count)
        XCTAssertEqual(Set(parts.joined()), Set(names))
        let patients = parts.map { Set($0.map { COVIDxSliceName($0)!.patient }) }
        XCTAssertTrue(patients[0].isDisjoint(with: patients[1]))
        XCTAssertTrue(patients[0].isDisjoint(with: patients[2]))
        XCTAssertTrue(patients[1].isDisjoint(with: patients[2]))
        let scans = parts.map { Set($0.map { COVIDxSliceName($0)!.scan }) }
        XCTAssertTrue(scans[0].isDisjoint(with: scans[1]) && scans[1].isDisjoint(with: scans[2]))
        // Sizes near the fractions, and every class on every side.
        for (part, fraction) in zip(parts, [0.7, 0.15, 0.15]) {
            XCTAssertEqual(Double(part.count) / Double(names.count), fraction, accuracy: 0.03)
            XCTAssertEqual(Set(part.map { COVIDxSliceName($0)!.label }).count, 3)
        }
        XCTAssertEqual(try DatasetSplit.random(names: names, fractions: [0.7, 0.15, 0.15], seed: 42, unit: .classificationPatient), parts)
        XCTAssertNotEqual(try DatasetSplit.random(names: names, fractions: [0.7, 0.15, 0.15], seed: 43, unit: .classificationPatient), parts)
    }

    func testRandomScanSplitWrittenFilesReadBack() throws {
        let names = (0..<40).flatMap { scan in (0..<5).map { "\(scan)_\($0 * 7).jpg" } }
        let parts = try DatasetSplit.random(names: names, fractions: [0.8, 0.2], seed: 1, unit: .segmentationScan)
        XCTAssertEqual(parts[0].count, 160)
        XCTAssertEqual(parts[1].count, 40)
        let scans = parts.map { Set($0.map { $0.split(separator: "_")[0] }) }
        XCTAssertTrue(scans[0].isDisjoint(with: scans[1]))
        for (index, part) in parts.enumerated() {
            let url = root.appendingPathComponent("part\(index).txt")
            try DatasetSplit.write(part, to: url)
            XCTAssertEqual(try DatasetSplit.read(from: url), part)
        }
    }

    func testRandomSplitRejectsBadFractionsAndNames() {
        XCTAssertThrowsError(try DatasetSplit.random(names: ["1_1.jpg"], fractions: [0.5, 0.4], seed: 0, unit: .segmentationScan))
        XCTAssertThrowsError(try DatasetSplit.random(names: ["1_1.jpg"], fractions: [1.2, -0.2], seed: 0, unit: .segmentationScan))
        XCTAssertThrowsError(try DatasetSplit.random(names: ["oops.png"], fractions: [1], seed: 0, unit: .classificationPatient)) { error in
            guard case DatasetError.unparsableNames(_, let names, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(names, ["oops.png"])
        }
    }

    // MARK: - The paper's split files (spec §1.4)

    func testSeedSegmentationSplits() throws {
        let folder = try Self.seedSplits()
        let train = try DatasetSplit.read(from: folder.appendingPathComponent("train_split_segmentation.txt"))
        let test = try DatasetSplit.read(from: folder.appendingPathComponent("test_split_segmentation.txt"))
        XCTAssertEqual(train.count, 650)
        XCTAssertEqual(test.count, 100)
        func scans(_ names: [String]) -> [Int: Int] {
            Dictionary(grouping: names, by: { Int(SplitUnit.segmentationScan.group(of: $0)!.group)! }).mapValues(\.count)
        }
        let trainScans = scans(train), testScans = scans(test)
        XCTAssertEqual(trainScans.count, 130)
        XCTAssertEqual(testScans.count, 20)
        XCTAssertTrue(trainScans.values.allSatisfy { $0 == 5 } && testScans.values.allSatisfy { $0 == 5 })
        XCTAssertTrue(trainScans.keys.allSatisfy { (0...149).contains($0) })
        XCTAssertEqual(testScans.keys.sorted(), [2, 9, 16, 24, 29, 46, 55, 63, 70, 88, 92, 98, 110, 116, 123, 128, 133, 136, 139, 149])
        XCTAssertTrue(Set(trainScans.keys).isDisjoint(with: testScans.keys))
        XCTAssertTrue(train.allSatisfy { $0.hasSuffix(".jpg") })
    }

    func testSeedClassificationSplit() throws {
        let names = try DatasetSplit.read(from: Self.seedSplits().appendingPathComponent("train_split_classification.txt"))
        XCTAssertEqual(names.count, 3000)
        let parsed = names.compactMap(COVIDxSliceName.init)
        XCTAssertEqual(parsed.count, 3000, "every name follows the convention")
        XCTAssertEqual(Dictionary(grouping: parsed, by: \.label).mapValues(\.count), [.control: 1000, .commonPneumonia: 1000, .covid19: 1000])
        XCTAssertEqual(Set(parsed.map { "\($0.label.rawValue)/\($0.patient)" }).count, 608)
        let patients = Dictionary(grouping: parsed, by: \.label).mapValues { Set($0.map(\.patient)).count }
        XCTAssertEqual(patients, [.control: 140, .commonPneumonia: 252, .covid19: 216])
        let scans = Dictionary(grouping: parsed, by: \.label).mapValues { Set($0.map { "\($0.patient)/\($0.scan)" }).count }
        XCTAssertEqual(scans, [.control: 249, .commonPneumonia: 340, .covid19: 333])
        XCTAssertTrue(parsed.allSatisfy { $0.slice.count == 4 })
    }
}
