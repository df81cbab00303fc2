import Foundation
import LesionClassifier
import NeuralNetwork
import ObjectDetection
import TensorCore
import VisionBackbones
import XCTest

/// Issue 6 "Bad input": wrong checkpoints are refused with errors naming the file and every problem,
/// before any model is trained.
final class ClassifierSetupErrorTests: XCTestCase {
    typealias Support = ClassifierTestSupport

    /// The setup error thrown by `body`, with its description.
    func setupError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line)
        -> (error: ClassifierSetupError, text: String)? {
        do {
            _ = try body()
            XCTFail("expected a ClassifierSetupError", file: file, line: line)
        } catch let error as ClassifierSetupError {
            return (error, "\(error)")
        } catch {
            XCTFail("expected a ClassifierSetupError, got \(error)", file: file, line: line)
        }
        return nil
    }

    func testSegmentationCheckpointOfAnotherClassCountOrBackboneIsRefused() throws {
        let folder = try Support.scratchFolder(self)
        let (checkpoint, _) = try Support.segmentationCheckpoint(Support.detector(), seed: 1, in: folder)  // R18 t1, merge
        let transfer = { (expected: MaskRCNNConfiguration) in
            try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 8, features: 16, expected: expected, seed: 0)
        }
        let classes = try XCTUnwrap(setupError { try transfer(Support.detector(maskType: .both)) })
        XCTAssertEqual(classes.error.file, checkpoint.source)
        XCTAssertTrue(classes.text.contains(checkpoint.source), classes.text)
        XCTAssertTrue(classes.text.contains("detects 2 classes (mask type merge)") && classes.text.contains("asks for 3"),
                      classes.text)

        let backbone = try XCTUnwrap(setupError { try transfer(Support.detector(depth: .resnet34)) })
        XCTAssertTrue(backbone.text.contains("resnet18 truncation 1") && backbone.text.contains("resnet34 truncation 1"),
                      backbone.text)

        var truncated = Support.detector()
        truncated.backbone = BackboneConfiguration(depth: .resnet18, truncation: 2)
        let truncation = try XCTUnwrap(setupError { try transfer(truncated) })
        XCTAssertTrue(truncation.text.contains("resnet18 truncation 2"), truncation.text)

        var both = Support.detector(depth: .resnet50, maskType: .both)
        both.minSize = 64
        let two = try XCTUnwrap(setupError { try transfer(both) })
        XCTAssertEqual(two.error.problems.count, 2, "every problem at once: \(two.text)")

        // The same mask type under another name (ggo and merge both have 2 classes) is accepted.
        XCTAssertNoThrow(try transfer(Support.detector(maskType: .ggo)))
    }

    func testCheckpointsWithoutMasknetMetadataAreRefused() throws {
        let folder = try Support.scratchFolder(self)
        let (bare, _) = try Support.segmentationCheckpoint(Support.detector(), seed: 1, in: folder, metadata: false)
        let segmentation = try XCTUnwrap(setupError {
            try WeightTransfer.classifier(fromSegmentation: bare, roiBatchSize: 8, features: 16, expected: nil, seed: 0)
        })
        XCTAssertTrue(segmentation.text.contains(bare.source) && segmentation.text.contains("no masknet configuration"),
                      segmentation.text)
        let classifier = try XCTUnwrap(setupError {
            try WeightTransfer.classifier(fromClassifier: bare, roiBatchSize: nil, features: nil)
        })
        XCTAssertTrue(classifier.text.contains(bare.source) && classifier.text.contains("not a masknet classifier checkpoint"),
                      classifier.text)
    }

    func testClassifierCheckpointWithAnotherDOrSIsRefused() throws {
        let folder = try Support.scratchFolder(self)
        let configuration = Support.detector()
        let (segmentation, _) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        let model = try WeightTransfer.classifier(fromSegmentation: segmentation, roiBatchSize: 8, features: 16,
                                                  expected: configuration, seed: 2).model
        var settings = ClassifierTrainingConfiguration()
        settings.epochs = 0
        let url = folder.appendingPathComponent("classifier.safetensors")
        try ClassifierTrainer(model: model, configuration: settings).saveCheckpoint(to: url)
        let checkpoint = try SafeTensorsFile.read(url)

        XCTAssertNoThrow(try WeightTransfer.classifier(fromClassifier: checkpoint, roiBatchSize: 8, features: 16))
        XCTAssertNoThrow(try WeightTransfer.classifier(fromClassifier: checkpoint, roiBatchSize: nil, features: nil))
        let d = try XCTUnwrap(setupError { try WeightTransfer.classifier(fromClassifier: checkpoint, roiBatchSize: 128, features: 16) })
        XCTAssertTrue(d.text.contains(url.path) && d.text.contains("D = roi_batch_size 8, asked for 128"), d.text)
        let s = try XCTUnwrap(setupError { try WeightTransfer.classifier(fromClassifier: checkpoint, roiBatchSize: 8, features: 512) })
        XCTAssertTrue(s.text.contains("s = s_features 16, asked for 512"), s.text)
        let both = try XCTUnwrap(setupError { try WeightTransfer.classifier(fromClassifier: checkpoint, roiBatchSize: 4, features: 4) })
        XCTAssertEqual(both.error.problems.count, 2)

        // A classifier checkpoint is not a segmentation source (it already holds S).
        let wrongKind = try XCTUnwrap(setupError {
            try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 8, features: 16, expected: nil, seed: 0)
        })
        XCTAssertTrue(wrongKind.text.contains("classifier checkpoint, not a segmentation one"), wrongKind.text)

        // Resuming a model of another D from it is refused before anything is loaded.
        let other = try WeightTransfer.classifier(fromSegmentation: segmentation, roiBatchSize: 16, features: 16,
                                                  expected: configuration, seed: 2).model
        let before = other.parameters["s2new.fc_scores.weight"]!.value.scalars
        let resume = try XCTUnwrap(setupError { try ClassifierTrainer(model: other, configuration: settings).resume(from: url) })
        XCTAssertTrue(resume.text.contains("D = roi_batch_size 8, asked for 16"), resume.text)
        XCTAssertEqual(other.parameters["s2new.fc_scores.weight"]!.value.scalars, before)
    }

    func testInvalidDOrSIsRefused() throws {
        let folder = try Support.scratchFolder(self)
        let (checkpoint, _) = try Support.segmentationCheckpoint(Support.detector(), seed: 1, in: folder)
        let error = try XCTUnwrap(setupError {
            try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 0, features: 0, expected: nil, seed: 0)
        })
        XCTAssertEqual(error.error.problems.count, 2, error.text)
    }

    func testEmptyTrainingSetOrZeroBatchSizeFailBeforeAnyStep() throws {
        let model = CovidCTMaskNet(configuration: ClassifierConfiguration(detector: Support.detector(), roiBatchSize: 8,
                                                                          features: 16), seed: 1)
        var settings = ClassifierTrainingConfiguration()
        settings.epochs = 1
        let empty = try XCTUnwrap(setupError {
            try ClassifierTrainer(model: model, configuration: settings)
                .train(training: LabelledSliceSource(count: 0) { _ in fatalError("never loaded") }, validation: nil, checkpoint: nil)
        })
        XCTAssertTrue(empty.text.contains("no images"), empty.text)
        settings.batchSize = 0
        var loads = 0
        let batch = try XCTUnwrap(setupError {
            try ClassifierTrainer(model: model, configuration: settings).train(
                training: LabelledSliceSource(count: 2) { index in
                    loads += 1
                    return (Support.slice(.control, variant: index), .control, "\(index)")
                }, validation: nil, checkpoint: nil)
        })
        XCTAssertTrue(batch.text.contains("batch size must be at least 1, got 0"), batch.text)
        XCTAssertEqual(loads, 0, "nothing is loaded before the settings are checked")
    }
}
