import Foundation
import LesionClassifier
import NeuralNetwork
import ObjectDetection
import TensorCore
import XCTest

/// Appendix D/B6, B23: the padding is drawn from the run seed and the image's identity, so a seed gives the
/// same logits for the same image every time, and evaluation does not depend on the order of images.
final class ClassifierDeterminismTests: XCTestCase {
    typealias Support = ClassifierTestSupport

    /// D = 600 is more than the ~hundreds of candidates a 64×64 slice yields, so the padding always fires.
    static func paddedModel(seed: UInt64 = 2, in test: XCTestCase) throws -> CovidCTMaskNet {
        let folder = try Support.scratchFolder(test)
        let configuration = Support.detector()
        let (checkpoint, _) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        return try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 600, features: 8,
                                             expected: configuration, seed: seed).model
    }

    func testSameSeedAndImageGiveIdenticalLogitsAndThePaddingDependsOnTheImageIdentity() throws {
        let first = try Self.paddedModel(in: self), second = try Self.paddedModel(in: self)
        XCTAssertTrue(Support.bitIdentical(first.parameters["s2new.fc_scores.weight"]!.value.scalars,
                                           second.parameters["s2new.fc_scores.weight"]!.value.scalars),
                      "S's init comes from the seed")
        let image = Support.slice(.covid19, variant: 4)
        func run(_ model: CovidCTMaskNet, seed: UInt64, identity: String) -> (logits: [Float], ranked: RankedBoxes) {
            var padding = ClassifierTrainer.paddingGenerator(seed: seed, identity: identity)
            let output = model.logits(image: image, context: .inference, paddingGenerator: &padding)
            return (output.logits.value.scalars, output.ranked)
        }
        let reference = run(first, seed: 7, identity: "2_1_1_0001.png")
        XCTAssertGreaterThan(reference.ranked.survivorCount, 1)
        XCTAssertLessThan(reference.ranked.survivorCount, 600, "the padding must fire for this test to mean anything")
        for _ in 0..<2 {
            let again = run(second, seed: 7, identity: "2_1_1_0001.png")
            XCTAssertTrue(Support.bitIdentical(again.logits, reference.logits))
            XCTAssertEqual(again.ranked.slotSurvivors, reference.ranked.slotSurvivors)
            XCTAssertTrue(Support.bitIdentical(again.ranked.rows.value.scalars, reference.ranked.rows.value.scalars))
        }
        // Another identity or another run seed draws other runs over the same survivors.
        for (seed, identity) in [(UInt64(7), "2_1_1_0002.png"), (8, "2_1_1_0001.png")] {
            let other = run(first, seed: seed, identity: identity)
            XCTAssertEqual(other.ranked.survivorCount, reference.ranked.survivorCount)
            XCTAssertNotEqual(other.ranked.slotSurvivors, reference.ranked.slotSurvivors, "seed \(seed), \(identity)")
            XCTAssertEqual(Set(other.ranked.slotSurvivors), Set(reference.ranked.slotSurvivors))
        }
    }

    func testEvaluationDoesNotDependOnTheOrderOfImages() throws {
        let model = try Self.paddedModel(in: self)
        let images = Support.source(count: 5)
        let items = try (0..<images.count).map { try images.load($0) }
        let reversed = LabelledSliceSource(count: items.count) { items[items.count - 1 - $0] }
        let forward = try ClassifierEvaluation.run(model: model, source: images, seed: 11)
        let backward = try ClassifierEvaluation.run(model: model, source: reversed, seed: 11)
        XCTAssertEqual(forward.labels, items.map(\.label))
        XCTAssertEqual(backward.labels, forward.labels.reversed())
        XCTAssertEqual(backward.predictions, forward.predictions.reversed())
        XCTAssertTrue(Support.bitIdentical(backward.logits.reversed().flatMap { $0 }, forward.logits.flatMap { $0 }),
                      "each image's logits are the same whatever its position")
        // Interleaving with training passes changes nothing either: the model holds no per-call state.
        let third = try ClassifierEvaluation.run(model: model, source: images, seed: 11)
        XCTAssertTrue(Support.bitIdentical(third.logits.flatMap { $0 }, forward.logits.flatMap { $0 }))
        for (index, prediction) in forward.predictions.enumerated() {
            XCTAssertEqual(prediction.rawValue, forward.logits[index].indices.max { forward.logits[index][$0] < forward.logits[index][$1] },
                           "prediction = argmax of the logits")
        }
    }
}
