import Foundation
import NeuralNetwork
import ObjectDetection
import TensorCore
import XCTest

/// A segmentation training paused between two steps (Slurm's USR2) and resumed from its checkpoint ends
/// with exactly the weights, Adam state, history and checkpoint bytes of a run that never stopped.
final class SegmentationPauseTests: XCTestCase {
    /// Four slices (one without lesion, which the loop skips) with the lesion at different places.
    static func source() -> SampleSource {
        SampleSource(count: 4) { index in
            var (image, target) = MaskRCNNTrainingTests.sample()
            if index == 3 { target = DetectionTarget(boxes: Tensor(shape: [0, 4]), labels: [], masks: Tensor(shape: [0, 64, 64])) }
            image = Tensor(shape: image.shape, scalars: image.scalars.enumerated().map { $0.element + Float(index % 3) * 0.01 * Float($0.offset % 5) })
            return (image, target)
        }
    }

    static func trainer() -> SegmentationTrainer {
        var settings = SegmentationTrainingConfiguration()
        settings.epochs = 2
        settings.learningRate = 1e-3
        settings.checkpointEvery = 1
        settings.seed = 11
        settings.learningRateSchedule = .cosine(floor: 0.1)
        return SegmentationTrainer(model: MaskRCNN(configuration: MaskRCNNTrainingTests.configuration(), seed: 3),
                                   configuration: settings)
    }

    func testPausedInsideAnEpochAndResumedGivesTheUninterruptedRun() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("segmentation-pause-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let straight = Self.trainer()
        let straightCheckpoint = folder.appendingPathComponent("straight.safetensors")
        try straight.train(training: Self.source(), validation: nil, checkpoint: straightCheckpoint)

        // Pause before the third step of epoch 2 (checks: 4 in epoch 1, then 2 in epoch 2).
        let paused = Self.trainer()
        let checkpoint = folder.appendingPathComponent("paused.safetensors")
        var checks = 0
        XCTAssertThrowsError(try paused.train(training: Self.source(), validation: nil, checkpoint: checkpoint,
                                              pauseRequested: { checks += 1; return checks == 7 })) { error in
            guard let pause = error as? TrainingPaused else { return XCTFail("expected TrainingPaused, got \(error)") }
            XCTAssertEqual(pause.point, TrainingResumePoint(epoch: 1, done: 2, steps: 4))
        }
        let file = try SafeTensorsFile.read(checkpoint)
        XCTAssertEqual(file.metadata["epoch"], "1")
        XCTAssertNotNil(file.metadata["epoch_in_progress"], "the pause checkpoint holds the epoch in progress")

        let resumed = Self.trainer()
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.resumePoint, TrainingResumePoint(epoch: 1, done: 2, steps: 4))
        try resumed.train(training: Self.source(), validation: nil, checkpoint: checkpoint)
        XCTAssertNil(resumed.resumePoint)
        XCTAssertEqual(resumed.history.map(\.trainLoss), straight.history.map(\.trainLoss))
        XCTAssertEqual(resumed.history.map(\.trainComponents), straight.history.map(\.trainComponents))
        XCTAssertEqual(resumed.history.map(\.usedSlices), [3, 3])
        for parameter in straight.model.parameters.parameters {
            let other = resumed.model.parameters[parameter.name]!.value.scalars
            XCTAssertEqual(other.map(\.bitPattern), parameter.value.scalars.map(\.bitPattern), parameter.name)
        }
        XCTAssertEqual(try Data(contentsOf: checkpoint), try Data(contentsOf: straightCheckpoint),
                       "the final checkpoint is byte-identical to the uninterrupted run's")
        XCTAssertNil(try SafeTensorsFile.read(checkpoint).metadata["epoch_in_progress"])
    }

    func testAPauseCheckpointOfAnotherEpochIsRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("segmentation-pause-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("paused.safetensors")
        var checks = 0
        XCTAssertThrowsError(try Self.trainer().train(training: Self.source(), validation: nil, checkpoint: checkpoint,
                                                       pauseRequested: { checks += 1; return checks == 2 }))
        // Tamper: claim a completed epoch while the epoch in progress is the first one.
        var file = try SafeTensorsFile.read(checkpoint)
        file.metadata["epoch"] = "1"
        try file.write(to: checkpoint)
        XCTAssertThrowsError(try Self.trainer().resume(from: checkpoint)) { error in
            XCTAssertTrue("\(error)".contains("does not follow its 1 completed epochs"), "\(error)")
        }
    }
}
