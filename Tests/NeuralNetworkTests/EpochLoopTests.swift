import NeuralNetwork
import XCTest

/// The loop's position in checkpoint metadata: written by one loop, read by another, refused when it cannot be
/// resumed from (the trainers' pause tests cover the positions a real pause writes).
final class EpochLoopTests: XCTestCase {
    struct Sums: Codable, Equatable { var loss: Double }

    static func loop() -> EpochLoop<Sums> {
        let optimizer = Adam(parameters: [], learningRate: 1e-3)
        return EpochLoop(epochs: 4, stepSize: 2, checkpointEvery: 1, seed: 5, shuffleStream: "test",
                         optimizer: optimizer, baseRate: 1e-3, schedule: .constant)
    }

    func testAPositionWrittenByOneLoopIsTheNextLoopsPosition() throws {
        let paused = EpochInProgress(epoch: 0, next: 6, length: 10, sums: Sums(loss: 2.5))
        let metadata = Self.loop().positionMetadata(epochInProgress: paused)
        XCTAssertEqual(metadata["epoch"], "0")
        XCTAssertNotNil(metadata["epoch_in_progress"])
        XCTAssertNil(Self.loop().positionMetadata(epochInProgress: nil)["epoch_in_progress"],
                     "an epoch-boundary checkpoint has no epoch in progress")
        let resumed = Self.loop()
        try resumed.restore(fromMetadata: metadata, file: "paused.safetensors")
        XCTAssertEqual(resumed.completedEpochs, 0)
        XCTAssertEqual(resumed.paused?.sums, Sums(loss: 2.5))
        XCTAssertEqual(resumed.resumePoint, TrainingResumePoint(epoch: 0, done: 6, steps: 10))

        let fresh = Self.loop()
        try fresh.restore(fromMetadata: [:], file: "untrained.safetensors")
        XCTAssertEqual(fresh.completedEpochs, 0)
        XCTAssertNil(fresh.paused, "metadata without a position is a run at its start")
    }

    func testAPositionThatCannotBeResumedIsRefusedNamingTheFileAndChangesNothing() throws {
        let paused = EpochInProgress(epoch: 0, next: 6, length: 10, sums: Sums(loss: 2.5))
        let good = Self.loop().positionMetadata(epochInProgress: paused)
        let cases: [(String, [String: String], String)] = [
            ("not a number", ["epoch": "three"], "'three' is not a non-negative integer"),
            ("negative", ["epoch": "-1"], "'-1' is not a non-negative integer"),
            ("unreadable", ["epoch": "0", "epoch_in_progress": "{\"epoch\": 0"], "its epoch in progress is unreadable"),
            ("another epoch", good.merging(["epoch": "2"]) { _, new in new }, "(1) does not follow its 2 completed epochs"),
        ]
        for (name, metadata, message) in cases {
            let loop = Self.loop()
            XCTAssertThrowsError(try loop.restore(fromMetadata: metadata, file: "run/checkpoint.safetensors"), name) { error in
                XCTAssertTrue("\(error)".hasPrefix("run/checkpoint.safetensors: cannot resume training"), "\(name): \(error)")
                XCTAssertTrue("\(error)".contains(message), "\(name): \(error)")
                XCTAssertTrue("\(error)".contains("delete the checkpoint"), "\(name): says what to do")
            }
            XCTAssertEqual(loop.completedEpochs, 0, name)
            XCTAssertNil(loop.paused, name)
        }
    }
}
