import Foundation
@testable import MaskNetStages
import NeuralNetwork
import PipelineEngine
import XCTest

/// The training kinds' `lr_schedule` parameters: each schedule is built, and settings that would be silently
/// ignored are refused with a message naming the stage and the fix.
final class LearningRateScheduleParameterTests: XCTestCase {
    private func values(_ schedule: String, milestones: [Int] = [], floor: Double = 0, gamma: Double = 0.1) -> ParameterValues {
        ParameterValues(["lr_schedule": .string(schedule), "lr_milestones": .array(milestones.map { .integer($0) }),
                         "lr_floor": .number(floor), "lr_gamma": .number(gamma)])
    }

    func testEachScheduleIsBuiltFromItsParameters() throws {
        XCTAssertEqual(try StageSupport.learningRateSchedule(values("constant"), stage: "seg"), .constant)
        XCTAssertEqual(try StageSupport.learningRateSchedule(values("cosine", floor: 0.05), stage: "seg"), .cosine(floor: 0.05))
        XCTAssertEqual(try StageSupport.learningRateSchedule(values("step", milestones: [8, 11], gamma: 0.2), stage: "seg"),
                       .step(milestones: [8, 11], gamma: 0.2))
    }

    func testIgnoredSettingsAreRefused() {
        for (parameters, expected) in [(values("step"), "needs lr_milestones"),
                                       (values("cosine", milestones: [4]), "only apply to lr_schedule 'step'"),
                                       (values("constant", milestones: [4]), "ignored by lr_schedule 'constant'")] {
            XCTAssertThrowsError(try StageSupport.learningRateSchedule(parameters, stage: "segmentation")) { error in
                XCTAssertTrue("\(error)".contains("segmentation: "), "\(error)")
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testBothTrainingKindsDeclareTheScheduleParameters() {
        for kind in MaskNetStageKinds.all where kind.name.hasPrefix("train_") {
            let names = Set(kind.parameters.map(\.name))
            XCTAssertTrue(names.isSuperset(of: ["lr_schedule", "lr_floor", "lr_milestones", "lr_gamma"]), kind.name)
        }
    }
}
