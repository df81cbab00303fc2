import NeuralNetwork
import ObjectDetection
import TensorCore
import VisionBackbones
import XCTest

/// End-to-end behaviour of the assembled detector on tiny inputs: losses are finite, gradients reach
/// every trainable tensor, a few Adam steps on one image reduce the loss, and inference returns
/// well-formed detections.
final class MaskRCNNTrainingTests: XCTestCase {
    /// A 64×64 image with a bright square lesion and its target.
    static func sample() -> (Tensor, DetectionTarget) {
        var image = Tensor(shape: [3, 64, 64], repeating: 0.2)
        var mask = Tensor(shape: [1, 64, 64])
        image.withUnsafeMutableBufferPointer { pixels in
            mask.withUnsafeMutableBufferPointer { m in
                for y in 20..<36 { for x in 24..<44 {
                    m[y * 64 + x] = 1
                    for c in 0..<3 { pixels[c * 4096 + y * 64 + x] = 0.9 }
                } }
            }
        }
        let target = DetectionTarget(boxes: Tensor(shape: [1, 4], scalars: [24, 20, 44, 36]), labels: [1], masks: mask)
        return (image, target)
    }

    static func configuration() -> MaskRCNNConfiguration {
        var configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1),
                                                  maskType: .merge)
        configuration.minSize = 64
        configuration.maxSize = 128
        return configuration
    }

    func testLossesAreFiniteAndGradientsReachEveryTensor() {
        let model = MaskRCNN(configuration: Self.configuration(), seed: 3)
        let (image, target) = Self.sample()
        var generator = SeededGenerator(seed: 4)
        let tape = GradientTape()
        let losses = model.losses(image: image, target: target, context: .training(tape: tape), generator: &generator)
        for (name, value) in losses.values { XCTAssertTrue(value.isFinite, "\(name) = \(value)") }
        XCTAssertGreaterThan(losses.values["loss_objectness"]!, 0)
        XCTAssertGreaterThan(losses.values["loss_classifier"]!, 0)
        tape.backward(from: losses.total)
        let missing = model.parameters.trainableParameters.filter { $0.gradient == nil }.map(\.name)
        XCTAssertEqual(missing, [], "parameters without gradient")
        XCTAssertEqual(model.parameters.integerBuffers["backbone.body.bn1.num_batches_tracked"], 1)
    }

    func testAFewStepsReduceTheLossOnOneImage() {
        let model = MaskRCNN(configuration: Self.configuration(), seed: 5)
        let (image, target) = Self.sample()
        let optimizer = Adam(parameters: model.parameters.trainableParameters, learningRate: 1e-3)
        var generator = SeededGenerator(seed: 6)
        var first: Float = 0, last: Float = 0
        for step in 0..<8 {
            let tape = GradientTape()
            let total = model.losses(image: image, target: target, context: .training(tape: tape), generator: &generator).total
            tape.backward(from: total)
            optimizer.step()
            optimizer.zeroGradients()
            if step == 0 { first = total.value.scalar }
            last = total.value.scalar
        }
        XCTAssertLessThan(last, first * 0.8, "loss \(first) → \(last)")
    }

    func testInferenceReturnsWellFormedDetections() {
        var configuration = Self.configuration()
        configuration.boxScoreThreshold = -1  // keep everything, to exercise the mask path
        let model = MaskRCNN(configuration: configuration, seed: 7)
        let (image, _) = Self.sample()
        let detections = model.detect(image: image)
        XCTAssertEqual(detections.boxes.shape, [detections.labels.count, 4])
        XCTAssertEqual(detections.scores.count, detections.labels.count)
        XCTAssertEqual(detections.masks.shape, [detections.labels.count, 64, 64])
        XCTAssertLessThanOrEqual(detections.labels.count, configuration.detectionsPerImage)
        XCTAssertEqual(detections.scores, detections.scores.sorted(by: >).sorted(by: >))
        for label in detections.labels { XCTAssertEqual(label, 1) }
    }
}
