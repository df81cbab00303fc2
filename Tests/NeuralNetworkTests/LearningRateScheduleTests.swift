import Foundation
import NeuralNetwork
import XCTest

/// The schedules against PyTorch's `MultiStepLR` and `CosineAnnealingLR` (Tools/make_lr_schedule_fixtures.py).
final class LearningRateScheduleTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Case: Decodable { var kind: String; var milestones: [Int]?; var gamma: Double?; var floor: Double?; var rates: [Double] }
        var base: Double
        var epochs: Int
        var cases: [Case]
    }

    func testWholeEpochRatesMatchPyTorchSchedulers() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "lr_schedules", withExtension: "json", subdirectory: "Fixtures"),
                                "run Tools/make_lr_schedule_fixtures.py")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.cases.count, 4)
        for reference in fixture.cases {
            let schedule: LearningRateSchedule = reference.kind == "step"
                ? .step(milestones: reference.milestones ?? [], gamma: reference.gamma ?? 0)
                : .cosine(floor: reference.floor ?? 0)
            for (epoch, expected) in reference.rates.enumerated() {
                let rate = schedule.learningRate(base: fixture.base, epoch: epoch, step: 0, steps: 37, totalEpochs: fixture.epochs)
                XCTAssertEqual(rate, expected, accuracy: 1e-12 * fixture.base, "\(reference.kind) at epoch \(epoch)")
            }
        }
    }

    func testCosineFallsMonotonicallyWithinEpochsToItsFloor() {
        let schedule = LearningRateSchedule.cosine(floor: 0.1)
        var previous = Double.infinity
        for epoch in 0..<3 {
            for step in 0..<10 {
                let rate = schedule.learningRate(base: 1, epoch: epoch, step: step, steps: 10, totalEpochs: 3)
                XCTAssertLessThan(rate, previous, "epoch \(epoch) step \(step)")
                previous = rate
            }
        }
        XCTAssertEqual(schedule.factor(position: 3, totalEpochs: 3), 0.1, accuracy: 1e-15)
        XCTAssertEqual(schedule.factor(position: 0, totalEpochs: 3), 1)
    }

    func testConstantIsTheBaseRateAndSchedulesRoundTripThroughJSON() throws {
        XCTAssertEqual(LearningRateSchedule.constant.learningRate(base: 3e-3, epoch: 7, step: 5, steps: 9, totalEpochs: 8), 3e-3)
        for schedule in [LearningRateSchedule.constant, .cosine(floor: 0.05), .step(milestones: [8, 11], gamma: 0.1)] {
            let data = try JSONEncoder().encode(schedule)
            XCTAssertEqual(try JSONDecoder().decode(LearningRateSchedule.self, from: data), schedule)
        }
    }
}
