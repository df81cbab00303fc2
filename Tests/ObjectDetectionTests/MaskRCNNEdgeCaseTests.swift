import Foundation
import NeuralNetwork
import TensorCore
import VisionBackbones
import XCTest

@testable import ObjectDetection

/// Edge cases from torchvision's own detection tests (test_models_detection_negative_samples,
/// degenerate boxes, few proposals, boxes at borders) on the seed's configuration.
final class MaskRCNNEdgeCaseTests: XCTestCase {
    static func configuration(size: Int = 64) -> MaskRCNNConfiguration {
        var configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1),
                                                  maskType: .merge)
        configuration.minSize = size
        configuration.maxSize = 2 * size
        return configuration
    }

    static func emptyTarget(size: Int = 64) -> DetectionTarget {
        DetectionTarget(boxes: Tensor(shape: [0, 4]), labels: [], masks: Tensor(shape: [0, size, size]))
    }

    static func image(size: Int = 64, seed: UInt64 = 9) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        return Tensor(shape: [3, size, size]) { for i in 0..<$0.count { $0[i] = generator.nextUniform() } }
    }

    /// torchvision ≥ 0.6: an image without boxes trains on negatives only; box and mask losses are 0.
    func testImageWithoutBoxesGivesZeroBoxAndMaskLosses() {
        let model = MaskRCNN(configuration: Self.configuration(), seed: 21)
        var generator = SeededGenerator(seed: 22)
        let tape = GradientTape()
        let losses = model.losses(image: Self.image(), target: Self.emptyTarget(), context: .training(tape: tape),
                                  generator: &generator)
        XCTAssertEqual(losses.boxRegression.value.scalar, 0)
        XCTAssertEqual(losses.mask.value.scalar, 0)
        XCTAssertEqual(losses.rpnBoxRegression.value.scalar, 0)
        XCTAssertGreaterThan(losses.objectness.value.scalar, 0)
        XCTAssertTrue(losses.objectness.value.scalar.isFinite)
        XCTAssertGreaterThan(losses.classifier.value.scalar, 0)
        XCTAssertTrue(losses.classifier.value.scalar.isFinite)
        tape.backward(from: losses.total)
        XCTAssertNotNil(model.parameters["rpn.head.cls_logits.weight"]?.gradient)
        XCTAssertNotNil(model.parameters["roi_heads.box_predictor.cls_score.weight"]?.gradient)
    }

    /// Every anchor is a negative without ground truth, and the objectness loss is then the mean
    /// softplus of the sampled logits (BCE against 0).
    func testEmptyTargetMakesEveryAnchorNegative() {
        let matcher = Matcher(highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: true)
        XCTAssertEqual(matcher(Tensor(shape: [0, 5])), [Int](repeating: Matcher.belowLowThreshold, count: 5))
        let logits = Tensor(shape: [6, 1], scalars: [-2, -0.5, 0, 0.25, 1, 3])
        let deltas = Tensor(shape: [6, 4], repeating: 0.1)
        let anchors = Tensor(shape: [6, 4], scalars: (0..<6).flatMap { i in [Float(i), 0, Float(i) + 4, 4] })
        let losses = RegionProposalNetwork.losses(
            objectness: Variable(logits), deltas: Variable(deltas), anchors: anchors, target: Self.emptyTarget(),
            matches: [Int](repeating: -1, count: 6), positive: [], negative: [0, 2, 3, 5],
            boxCoder: BoxCoder(weights: (1, 1, 1, 1)))
        let expected = [Float(-2), 0, 0.25, 3].map { log1p(exp($0)) }.reduce(0, +) / 4
        XCTAssertEqual(losses.objectness.value.scalar, expected, accuracy: 1e-6)
        XCTAssertEqual(losses.boxRegression.value.scalar, 0)
    }

    /// Anchors #0 and #5 of every location have zero height (spec §3.1). They are never positives
    /// for a real box, their decoded proposals stay finite, and post-processing drops zero-area
    /// candidates (the area > 0 filter, spec §4.6).
    func testZeroHeightAnchorsAreHarmless() {
        let generator = AnchorGenerator()
        let cell = generator.anchors(imageHeight: 32, imageWidth: 32, featureSizes: [(height: 1, width: 1)])[0]
        let values: [Float] = cell.scalars
        let heights: [Float] = (0..<30).map { (i: Int) -> Float in values[4 * i + 3] - values[4 * i + 1] }
        XCTAssertEqual(heights.indices.filter { heights[$0] == 0 }, [0, 5])
        // Decoding zero deltas of a zero-height anchor gives a finite zero-height box.
        let decoded = BoxCoder(weights: (1, 1, 1, 1)).decode(deltas: Tensor(shape: [2, 4]),
                                                             boxes: cell.rows([0, 5]))
        XCTAssertTrue(decoded.scalars.allSatisfy(\.isFinite))
        // A gt box overlapping the location: the zero-height anchors have IoU 0 and are negatives.
        let gt = boxes([[-8, -8, 8, 8]])
        let matches = Matcher(highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: true)(BoxOperations.iou(gt, cell))
        XCTAssertEqual(matches[0], Matcher.belowLowThreshold)
        XCTAssertEqual(matches[5], Matcher.belowLowThreshold)
        XCTAssertTrue(matches.contains { $0 >= 0 })

        // The RoI post-processing drops candidates of zero area and keeps the rest.
        let configuration = Self.configuration()
        let store = ParameterStore()
        var init_ = SeededGenerator(seed: 1)
        let heads = RoIHeads(ParameterScope(store: store, prefix: "roi_heads"), configuration: configuration,
                             withMasks: false, generator: &init_)
        let proposals = boxes([[10, 10, 20, 10], [10, 10, 20, 20]])  // the first has zero height
        let image = TransformedImage(batch: Tensor(shape: [1, 3, 64, 64]), height: 64, width: 64,
                                     originalHeight: 64, originalWidth: 64, target: nil)
        let candidates = heads.candidates(logits: Tensor(shape: [2, 2]), deltas: Tensor(shape: [2, 8]),
                                          proposals: proposals, image: image)
        XCTAssertEqual(candidates.rows, [1])
        XCTAssertEqual(candidates.boxes, [10, 10, 20, 20])
    }

    /// Fewer anchors than pre_nms_top_n and fewer survivors than post_nms_top_n: everything that
    /// survives NMS is returned, sorted by score, without padding.
    func testFewerProposalsThanRequested() {
        let configuration = Self.configuration(size: 32)
        let model = MaskRCNN(configuration: configuration, seed: 31)
        let prepared = model.transform(Self.image(size: 32))
        let levels = model.backbone(Variable(prepared.batch), .inference)
        let (objectness, deltas) = model.rpn.head(levels, .inference)
        let levelAnchors = model.rpn.anchorGenerator.anchors(
            imageHeight: 32, imageWidth: 32, featureSizes: levels.map { (height: $0.shape[2], width: $0.shape[3]) })
        XCTAssertEqual(levelAnchors[0].shape[0], 2 * 2 * 30)  // 120 anchors < 1000 requested
        let proposals = model.rpn.filterProposals(objectness: objectness.value, deltas: deltas.value,
                                                  levelAnchors: levelAnchors, image: prepared, training: false)
        XCTAssertGreaterThan(proposals.shape[0], 0)
        XCTAssertLessThanOrEqual(proposals.shape[0], 120)
        XCTAssertTrue(proposals.scalars.allSatisfy { $0 >= 0 && $0 <= 32 })
        // No kept pair overlaps above the NMS threshold (single level: one group).
        let iou = BoxOperations.iou(proposals, proposals).scalars
        let n = proposals.shape[0]
        for i in 0..<n { for j in (i + 1)..<n { XCTAssertFalse(iou[i * n + j] > configuration.rpnNMSThreshold) } }
        // Inference on the whole model works with so few proposals.
        let detections = model.detect(image: Self.image(size: 32))
        XCTAssertLessThanOrEqual(detections.labels.count, proposals.shape[0])
        XCTAssertEqual(detections.masks.shape, [detections.labels.count, 32, 32])
    }

    /// Ground-truth boxes touching the image borders (including a box covering the whole image):
    /// finite losses, mask targets inside [0, 1], detections clipped to the image.
    func testBoxesAtImageBorders() {
        let size = 64
        var masks = Tensor(shape: [2, size, size])
        masks.withUnsafeMutableBufferPointer { m in
            for y in 0..<16 { for x in 0..<20 { m[y * size + x] = 1 } }                    // top-left corner
            for y in 40..<64 { for x in 50..<64 { m[size * size + y * size + x] = 1 } }    // bottom-right corner
        }
        let target = DetectionTarget(boxes: boxes([[0, 0, 20, 16], [50, 40, 64, 64]]), labels: [1, 1], masks: masks)
        let model = MaskRCNN(configuration: Self.configuration(), seed: 41)
        var generator = SeededGenerator(seed: 42)
        let tape = GradientTape()
        let losses = model.losses(image: Self.image(), target: target, context: .training(tape: tape), generator: &generator)
        for (name, value) in losses.values { XCTAssertTrue(value.isFinite, "\(name) = \(value)") }
        XCTAssertGreaterThan(losses.values["loss_mask"]!, 0)
        tape.backward(from: losses.total)
        let nonFinite = model.parameters.trainableParameters
            .filter { !($0.gradient?.scalars.allSatisfy(\.isFinite) ?? true) }.map(\.name)
        XCTAssertEqual(nonFinite, [], "non-finite gradients")
        let targets = MaskOperations.maskTargets(instanceMasks: masks, proposals: boxes([[0, 0, 64, 64], [50, 40, 64, 64]]),
                                                 matchedGroundTruth: [0, 1])
        XCTAssertTrue(targets.scalars.allSatisfy { $0 >= -1e-6 && $0 <= 1 + 1e-6 }, "targets \(targets.scalars.min()!)…\(targets.scalars.max()!)")
        XCTAssertEqual(targets.scalars[(784)..<(2 * 784)].min()!, 1, accuracy: 1e-6)  // the exact box is all foreground

        var configuration = Self.configuration()
        configuration.boxScoreThreshold = -1
        let detector = MaskRCNN(configuration: configuration, seed: 43)
        let detections = detector.detect(image: Self.image())
        XCTAssertGreaterThan(detections.labels.count, 0)
        XCTAssertTrue(detections.boxes.scalars.allSatisfy { $0 >= 0 && $0 <= Float(size) })

        // Post-processing passed per call equals a model built with the same settings, so evaluation and
        // inference need no second model; a smaller count keeps the top of the same list.
        let perCall = MaskRCNN(configuration: Self.configuration(), seed: 43)
            .detect(image: Self.image(), postProcessing: configuration.postProcessing)
        XCTAssertEqual(perCall.labels, detections.labels)
        XCTAssertEqual(perCall.scores, detections.scores)
        XCTAssertEqual(perCall.boxes.scalars, detections.boxes.scalars)
        XCTAssertEqual(perCall.masks.scalars, detections.masks.scalars)
        let top = detector.detect(image: Self.image(), postProcessing: .init(scoreThreshold: -1, detectionsPerImage: 2))
        XCTAssertEqual(top.scores, Array(detections.scores.prefix(2)))
    }
}

/// The selection-based top-k of proposal filtering against a full sort (ties: lower index first).
final class ProposalTopKTests: XCTestCase {
    func testTopIndicesEqualsFullSortIncludingTies() {
        var generator = SeededGenerator(seed: 77)
        for trial in 0..<20 {
            let count = 50 + generator.nextInt(below: 3000)
            // Few distinct values in half the trials, to force many ties at the threshold.
            let values: [Float] = (0..<count).map { _ in
                trial % 2 == 0 ? Float(generator.nextInt(below: 7)) : generator.nextNormal()
            }
            let start = generator.nextInt(below: 20)
            let range = start..<count
            for k in [1, 2, 17, range.count / 2, range.count - 1, range.count, range.count + 5] where k > 0 {
                let expected = Array(Array(range).sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
                    .prefix(k))
                XCTAssertEqual(RegionProposalNetwork.topIndices(values, range: range, k: k), expected, "trial \(trial) k \(k)")
            }
        }
    }
}
