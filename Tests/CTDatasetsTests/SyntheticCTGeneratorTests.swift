import Foundation
import ImageIO
import XCTest
@testable import CTDatasets

/// The synthetic CT generator: determinism, both layouts readable by the loaders, and class properties.
final class SyntheticCTGeneratorTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// Every file under `folder` with its bytes, by relative path.
    private func contents(of folder: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])!
        for case let url as URL in enumerator where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            result[String(url.path.dropFirst(folder.path.count))] = try Data(contentsOf: url)
        }
        return result
    }

    func testSameSeedGivesIdenticalBytesAndOtherSeedDiffers() throws {
        let configuration = SyntheticCTConfiguration(seed: 5, size: 64, count: 12)
        try SyntheticCTGenerator(configuration).write(to: root.appendingPathComponent("a"))
        try SyntheticCTGenerator(configuration).write(to: root.appendingPathComponent("b"))
        var other = configuration
        other.seed = 6
        try SyntheticCTGenerator(other).write(to: root.appendingPathComponent("c"))
        let a = try contents(of: root.appendingPathComponent("a"))
        let b = try contents(of: root.appendingPathComponent("b"))
        let c = try contents(of: root.appendingPathComponent("c"))
        XCTAssertEqual(a.count, 12 * 3 + 1)   // segmentation image + mask, classification image, manifest
        XCTAssertEqual(a, b)
        // A different seed changes every image (names may differ too, since slice numbers follow the draw).
        let imagesA = Set(a.filter { $0.key.hasSuffix(".png") && !$0.key.contains("/masks/") }.values)
        let imagesC = Set(c.filter { $0.key.hasSuffix(".png") && !$0.key.contains("/masks/") }.values)
        XCTAssertEqual(imagesA.count, 24)
        XCTAssertTrue(imagesA.isDisjoint(with: imagesC), "a different seed must change the slices")
        XCTAssertTrue(a.keys.contains("/manifest.json"))
    }

    func testWritesReadableLayoutsAndManifest() throws {
        let configuration = SyntheticCTConfiguration(seed: 11, size: 128, count: 30)
        let manifest = try SyntheticCTGenerator(configuration).write(to: root)
        XCTAssertEqual(manifest.slices, ["segmentation": 30, "classification": 30])
        XCTAssertEqual(manifest.version, SyntheticCTGenerator.version)
        let decoded = try JSONDecoder().decode(SyntheticCTManifest.self,
                                               from: Data(contentsOf: root.appendingPathComponent("manifest.json")))
        XCTAssertEqual(decoded, manifest)

        let segmentation = try SegmentationDataset(root: root.appendingPathComponent("segmentation"))
        XCTAssertEqual(segmentation.count, 30)
        try segmentation.validate()
        XCTAssertTrue(segmentation.imageNames.allSatisfy { SplitUnit.segmentationScan.group(of: $0) != nil })
        var withLesions = 0
        for index in 0..<segmentation.count {
            let sample = try segmentation.sample(at: index)
            XCTAssertEqual(sample.image.shape, [3, 128, 128])
            if !sample.instances.isEmpty { withLesions += 1 }
        }
        XCTAssertGreaterThan(withLesions, 15, "most lesion slices keep a lesion > 100 px at 128x128")
        XCTAssertLessThan(withLesions, 30, "some slices have no lesion or only small ones")

        let classification = try ClassificationDataset(folder: root.appendingPathComponent("classification"))
        XCTAssertEqual(classification.count, 30)
        XCTAssertEqual(Set(classification.sliceNames.map(\.label)).count, 3)
        let parts = try DatasetSplit.random(names: classification.names, fractions: [0.5, 0.5], seed: 3,
                                            unit: .classificationPatient)
        XCTAssertTrue(Set(parts[0].map { COVIDxSliceName($0)!.patient })
            .isDisjoint(with: parts[1].map { COVIDxSliceName($0)!.patient }))

        XCTAssertThrowsError(try SyntheticCTGenerator(configuration).write(to: root)) { error in
            guard case DatasetError.writeFailed = error else { return XCTFail("\(error)") }
        }
        try SyntheticCTGenerator(configuration).write(to: root, replacingExisting: true)
    }

    func testLargeSlicesRender() throws {
        let generator = SyntheticCTGenerator(SyntheticCTConfiguration(seed: 2, size: 512, count: 1, layout: .segmentation))
        let slice = generator.render(generator.plan(.segmentation)[0])
        XCTAssertEqual(slice.image.values.count, 512 * 512)
        XCTAssertEqual(Set(slice.mask.values).isSubset(of: [0, 1, 2, 3]), true)
        XCTAssertGreaterThan(slice.mask.values.filter { $0 == 1 }.count, 512 * 512 / 10, "two lungs")
    }

    /// Per-slice lesion statistics over the classification plan (rendered in memory).
    private struct Statistics {
        var slices = 0, lesionSlices = 0, bilateral = 0
        var ggo = 0, consolidation = 0
        var lungMeanBright = 0.0
    }

    private func statistics(seed: UInt64, slices: Int = 180, size: Int = 128) -> [CTClass: Statistics] {
        let generator = SyntheticCTGenerator(SyntheticCTConfiguration(seed: seed, size: size, count: slices,
                                                                      layout: .classification))
        var result: [CTClass: Statistics] = [:]
        for descriptor in generator.plan(.classification) {
            let slice = generator.render(descriptor)
            var stats = result[descriptor.label, default: Statistics()]
            stats.slices += 1
            var left = 0, right = 0
            for (p, v) in slice.mask.values.enumerated() where v >= 2 {
                if p % size < size / 2 { left += 1 } else { right += 1 }
                if v == 2 { stats.ggo += 1 } else { stats.consolidation += 1 }
            }
            if left + right > 0 { stats.lesionSlices += 1 }
            if left > 20 && right > 20 { stats.bilateral += 1 }
            result[descriptor.label] = stats
        }
        return result
    }

    func testClassesDifferTheWayThePapersDo() {
        let stats = statistics(seed: 21)
        let control = stats[.control]!, covid = stats[.covid19]!, cp = stats[.commonPneumonia]!
        XCTAssertGreaterThan(control.slices, 40)
        XCTAssertEqual(control.slices + covid.slices + cp.slices, 180)
        XCTAssertEqual(control.ggo + control.consolidation, 0, "control slices have no lesion pixels")
        XCTAssertGreaterThan(covid.lesionSlices, covid.slices / 2)
        XCTAssertGreaterThan(cp.lesionSlices, cp.slices / 2)
        XCTAssertLessThan(covid.lesionSlices, covid.slices, "some COVID-19 slices show little or no lesion")
        let covidBilateral = Double(covid.bilateral) / Double(covid.lesionSlices)
        let cpBilateral = Double(cp.bilateral) / Double(cp.lesionSlices)
        XCTAssertGreaterThan(covidBilateral, cpBilateral + 0.15, "COVID-19 \(covidBilateral) vs CP \(cpBilateral)")
        let covidConsolidation = Double(covid.consolidation) / Double(covid.ggo + covid.consolidation)
        let cpConsolidation = Double(cp.consolidation) / Double(cp.ggo + cp.consolidation)
        XCTAssertGreaterThan(cpConsolidation, 0.4, "CP is consolidation-dominant")
        XCTAssertLessThan(covidConsolidation, 0.25, "COVID-19 is mostly GGO")
    }
}
