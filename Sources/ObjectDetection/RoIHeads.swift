import Foundation
import NeuralNetwork
import TensorCore

/// The losses of the RoI heads for one image (spec §4.4–4.5).
public struct RoIHeadLosses {
    public var classifier: Variable
    public var boxRegression: Variable
    public var mask: Variable
}

/// Box and mask heads with training targets, losses and inference post-processing.
public final class RoIHeads {
    let configuration: MaskRCNNConfiguration
    public let boxPooler: MultiScaleRoIAlign
    public let maskPooler: MultiScaleRoIAlign
    public let boxHead: TwoMLPHead
    public let boxPredictor: FastRCNNPredictor
    /// Absent in the classifier (Faster R-CNN) flavour.
    public let maskBranch: MaskBranch?
    public let boxCoder: BoxCoder
    let matcher: Matcher
    let sampler: BalancedPositiveNegativeSampler

    public init(_ scope: ParameterScope, configuration: MaskRCNNConfiguration, withMasks: Bool,
                generator: inout SeededGenerator) {
        self.configuration = configuration
        boxPooler = MultiScaleRoIAlign(outputSize: 7, samplingRatio: 2)
        maskPooler = MultiScaleRoIAlign(outputSize: 14, samplingRatio: 2)
        boxHead = TwoMLPHead(scope.child("box_head"), inFeatures: 256 * 7 * 7,
                             representationSize: configuration.representationSize, generator: &generator)
        boxPredictor = FastRCNNPredictor(scope.child("box_predictor"), inFeatures: configuration.representationSize,
                                         classCount: configuration.classCount, generator: &generator)
        maskBranch = withMasks
            ? MaskBranch(head: scope.child("mask_head"), predictor: scope.child("mask_predictor"),
                         layers: configuration.maskHeadLayers, predictorChannels: configuration.maskPredictorChannels,
                         classCount: configuration.classCount, generator: &generator)
            : nil
        let w = configuration.boxRegressionWeights
        boxCoder = BoxCoder(weights: (w[0], w[1], w[2], w[3]))
        matcher = Matcher(highThreshold: configuration.boxForegroundIoU, lowThreshold: configuration.boxBackgroundIoU,
                          allowLowQualityMatches: false)
        sampler = BalancedPositiveNegativeSampler(batchSizePerImage: configuration.boxBatchSizePerImage,
                                                  positiveFraction: configuration.boxPositiveFraction)
    }

    /// Box head and predictor over `rois`: `(logits [R, n_c], deltas [R, 4·n_c])`.
    public func boxOutputs(_ levels: [Variable], rois: Tensor, image: TransformedImage,
                           _ context: ForwardContext) -> (logits: Variable, deltas: Variable) {
        let pooled = boxPooler(levels, rois: rois, batchIndices: [Int](repeating: 0, count: rois.shape[0]),
                               imageHeight: image.height, imageWidth: image.width)
        return boxPredictor(boxHead(pooled, context), context)
    }

    /// Training pass (spec §4.4–4.5): sample proposals (plus the gt boxes), compute the three losses.
    public func trainingLosses(_ levels: [Variable], proposals: Tensor, image: TransformedImage,
                               target: DetectionTarget, context: ForwardContext,
                               generator: inout SeededGenerator) -> RoIHeadLosses {
        let candidates = Tensor(concatenatingBoxes: [proposals, target.boxes])
        let matches = matcher(BoxOperations.iou(target.boxes, candidates))
        // Class label per candidate: gt label, 0 background, −1 ignored.
        let labels = matches.map { $0 >= 0 ? target.labels[$0] : ($0 == Matcher.belowLowThreshold ? 0 : -1) }
        let (positive, negative) = sampler(labels, generator: &generator)
        return losses(levels, candidates: candidates, matches: matches, labels: labels, positive: positive,
                      negative: negative, image: image, target: target, context: context)
    }

    /// The loss formulas with the sample fixed (used directly by parity tests).
    public func losses(_ levels: [Variable], candidates: Tensor, matches: [Int], labels: [Int], positive: [Int],
                       negative: [Int], image: TransformedImage, target: DetectionTarget,
                       context: ForwardContext) -> RoIHeadLosses {
        let sampled = positive + negative
        let sampledBoxes = candidates.rows(sampled)
        let (logits, deltas) = boxOutputs(levels, rois: sampledBoxes, image: image, context)
        let sampledLabels = sampled.map { labels[$0] }
        let classifierLoss = softmaxCrossEntropy(logits: logits, labels: sampledLabels, reduction: .mean)

        let positiveRows = Array(0..<positive.count)  // positives come first in `sampled`
        let positiveLabels = positive.map { labels[$0] }
        let boxLoss: Variable
        if positive.isEmpty {
            boxLoss = Variable(Tensor(scalar: 0))
        } else {
            let matchedBoxes = target.boxes.rows(positive.map { matches[$0] })
            let positiveBoxes = candidates.rows(positive)
            let regressionTargets = boxCoder.encode(reference: matchedBoxes, proposals: positiveBoxes)
            boxLoss = smoothL1(gatherBlocks(deltas, rows: positiveRows, blocks: positiveLabels, blockWidth: 4),
                               target: regressionTargets, beta: 1, reduction: .sum)
                .scaled(by: 1 / Float(sampled.count))
        }

        var maskLoss = Variable(Tensor(scalar: 0))
        if let maskBranch, !positive.isEmpty {
            let positiveBoxes = candidates.rows(positive)
            let pooled = maskPooler(levels, rois: positiveBoxes, batchIndices: [Int](repeating: 0, count: positive.count),
                                    imageHeight: image.height, imageWidth: image.width)
            let maskLogits = maskBranch(pooled, context)  // [P, n_c, 28, 28]
            let side = maskLogits.shape[2]
            let selected = gatherBlocks(maskLogits, rows: positiveRows, blocks: positiveLabels, blockWidth: side * side)
            let targets = MaskOperations.maskTargets(instanceMasks: target.masks, proposals: positiveBoxes,
                                                     matchedGroundTruth: positive.map { matches[$0] }, size: side)
            maskLoss = binaryCrossEntropyWithLogits(logits: selected, targets: targets.reshaped([positive.count, side * side]),
                                                    reduction: .mean)
        }
        return RoIHeadLosses(classifier: classifierLoss, boxRegression: boxLoss, mask: maskLoss)
    }

    /// Class-specific candidates of every proposal (spec §4.6 steps 1–4): decoded and clipped boxes,
    /// softmax scores and labels, background dropped, zero-area boxes dropped. `rows` maps each candidate
    /// back to its proposal.
    public func candidates(logits: Tensor, deltas: Tensor, proposals: Tensor, image: TransformedImage)
        -> (boxes: [Float], scores: [Float], labels: [Int], rows: [Int]) {
        let classCount = configuration.classCount
        let proposalCount = proposals.shape[0]
        let probabilities = softmaxRows(Variable(logits)).value.scalars
        let decoded = BoxOperations.clip(boxCoder.decode(deltas: deltas, boxes: proposals)
            .reshaped([proposalCount * classCount, 4]), height: image.height, width: image.width).scalars
        var boxes: [Float] = [], scores: [Float] = [], labels: [Int] = [], rows: [Int] = []
        for row in 0..<proposalCount {
            for label in 1..<classCount {
                let base = 4 * (row * classCount + label)
                let (x1, y1, x2, y2) = (decoded[base], decoded[base + 1], decoded[base + 2], decoded[base + 3])
                guard (x2 - x1) * (y2 - y1) > 0 else { continue }
                boxes.append(contentsOf: [x1, y1, x2, y2])
                scores.append(probabilities[row * classCount + label])
                labels.append(label)
                rows.append(row)
            }
        }
        return (boxes, scores, labels, rows)
    }

    /// Inference (spec §4.6): candidates, score > threshold, per-class NMS, top detections, masks.
    /// Boxes and masks are in the resized image; `MaskRCNN.detect` maps them to the original image.
    /// `postProcessing` defaults to the configuration's.
    public func detect(_ levels: [Variable], proposals: Tensor, image: TransformedImage,
                       context: ForwardContext, postProcessing: DetectionPostProcessing? = nil) -> Detections {
        let filter = postProcessing ?? configuration.postProcessing
        let (logits, deltas) = boxOutputs(levels, rois: proposals, image: image, context)
        let all = candidates(logits: logits.value, deltas: deltas.value, proposals: proposals, image: image)
        let passing = all.scores.indices.filter { all.scores[$0] > filter.scoreThreshold }
        let passingBoxes = Tensor(shape: [passing.count, 4], scalars: passing.flatMap { all.boxes[(4 * $0)..<(4 * $0 + 4)] })
        let keep = BoxOperations.batchedNMS(boxes: passingBoxes, scores: passing.map { all.scores[$0] },
                                            groups: passing.map { all.labels[$0] },
                                            iouThreshold: filter.nmsThreshold)
            .prefix(filter.detectionsPerImage)
        let finalBoxes = passingBoxes.rows(Array(keep))
        let scores = keep.map { all.scores[passing[$0]] }
        let labels = keep.map { all.labels[passing[$0]] }
        var masks = Tensor(shape: [0, 28, 28])
        if let maskBranch, !keep.isEmpty {
            let pooled = maskPooler(levels, rois: finalBoxes, batchIndices: [Int](repeating: 0, count: keep.count),
                                    imageHeight: image.height, imageWidth: image.width)
            let maskLogits = maskBranch(pooled, context)
            let side = maskLogits.shape[2]
            masks = gatherBlocks(maskLogits, rows: Array(0..<keep.count), blocks: labels, blockWidth: side * side)
                .value.reshaped([keep.count, side, side])
        }
        return Detections(boxes: finalBoxes, scores: scores, labels: labels, masks: masks)
    }
}
