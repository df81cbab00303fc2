import CTDatasets
import Foundation
import LesionClassifier
import MaskNetWorkflows
import ObjectDetection
import XCTest

final class DataSourcesTests: XCTestCase {
    func testGeneratedDataFeedsTheModelSources() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-sources-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try SyntheticCTGenerator(SyntheticCTConfiguration(seed: 3, size: 64, count: 12)).write(to: root)
        let segmentation = DataSources.segmentation(try SegmentationDataset(
            root: root.appendingPathComponent("segmentation"), maskType: .merge, areaThreshold: 20))
        XCTAssertEqual(segmentation.count, 12)
        var instances = 0
        for index in 0..<segmentation.count {
            let (image, target) = try segmentation.load(index)
            XCTAssertEqual(image.shape, [3, 64, 64])
            XCTAssertEqual(target.masks.shape, [target.labels.count, 64, 64])
            XCTAssertTrue(target.labels.allSatisfy { $0 == 1 }, "merge has one lesion class")
            instances += target.labels.count
        }
        XCTAssertGreaterThan(instances, 0)
        let classification = DataSources.classification(try ClassificationDataset(
            folder: root.appendingPathComponent("classification")))
        XCTAssertEqual(classification.count, 12)
        let (image, label, identity) = try classification.load(0)
        XCTAssertEqual(image.shape, [3, 64, 64])
        XCTAssertEqual(String(identity.prefix(1)), "\(label.rawValue)")
    }
}
