import Foundation
@testable import MaskNetStages
import PipelineEngine
import XCTest

/// `freeze_bn_stats` chooses the classifier's trainable set; a combination that would train nothing it names
/// is refused with the stage and the fix.
final class TrainableSetParameterTests: XCTestCase {
    private func values(downsample: Bool, batchNorm: Bool, boxPredictor: Bool = false) -> ParameterValues {
        ParameterValues(["include_downsample_bn": .bool(downsample), "train_bn_affine": .bool(batchNorm),
                         "train_box_predictor": .bool(boxPredictor)])
    }

    func testEachConsistentSetIsAccepted() throws {
        for (downsample, batchNorm) in [(false, true), (true, true), (false, false)] {
            for boxPredictor in [false, true] {
                let set = try FreezeBatchNormStage.trainableSet(
                    values(downsample: downsample, batchNorm: batchNorm, boxPredictor: boxPredictor), stage: "frozen")
                XCTAssertEqual(set.downsample, downsample)
                XCTAssertEqual(set.batchNorm, batchNorm)
                XCTAssertEqual(set.boxPredictor, boxPredictor)
            }
        }
    }

    func testDownsampleBatchNormWithoutBatchNormIsRefused() {
        XCTAssertThrowsError(try FreezeBatchNormStage.trainableSet(values(downsample: true, batchNorm: false), stage: "frozen")) {
            let message = "\($0)"
            XCTAssertTrue(message.contains("frozen:") && message.contains("drop one of the two"), message)
        }
    }

    func testTheSeedsSetIsTheDefault() {
        let defaults = Dictionary(uniqueKeysWithValues: FreezeBatchNormStage().parameters.map { ($0.name, $0.defaultValue) })
        XCTAssertEqual(defaults["train_bn_affine"] ?? nil, .bool(true))
        XCTAssertEqual(defaults["include_downsample_bn"] ?? nil, .bool(false))
        XCTAssertEqual(defaults["train_box_predictor"] ?? nil, .bool(false))
    }
}
