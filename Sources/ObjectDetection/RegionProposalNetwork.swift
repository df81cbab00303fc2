import Foundation
import NeuralNetwork
import TensorCore

/// The RPN head shared over levels (spec §3.2): 3×3 conv + ReLU, then 1×1 convs to A objectness logits
/// and 4A box deltas. Parameters `rpn.head.{conv,cls_logits,bbox_pred}.*`, init N(0, 0.01²), zero bias.
public final class RPNHead {
    let conv: Conv2d, classLogits: Conv2d, boxPrediction: Conv2d

    public init(_ scope: ParameterScope, inChannels: Int, anchorsPerLocation: Int, generator: inout SeededGenerator) {
        let initialization = WeightInitialization.normal(standardDeviation: 0.01)
        conv = Conv2d(scope.child("conv"), inChannels: inChannels, outChannels: inChannels, kernelSize: 3, padding: 1,
                      initialization: initialization, generator: &generator)
        classLogits = Conv2d(scope.child("cls_logits"), inChannels: inChannels, outChannels: anchorsPerLocation,
                             kernelSize: 1, initialization: initialization, generator: &generator)
        boxPrediction = Conv2d(scope.child("bbox_pred"), inChannels: inChannels, outChannels: 4 * anchorsPerLocation,
                               kernelSize: 1, initialization: initialization, generator: &generator)
    }

    /// Per level: objectness `[H·W·A, 1]` and deltas `[H·W·A, 4]`, rows in anchor order (y, x, a).
    /// Assumes a batch of one image (the seed trains with batch 1 and evaluates image by image).
    public func callAsFunction(_ levels: [Variable], _ context: ForwardContext) -> (objectness: Variable, deltas: Variable) {
        var logits: [Variable] = [], deltas: [Variable] = []
        for level in levels {
            precondition(level.shape[0] == 1, "RPNHead handles one image at a time, got batch \(level.shape[0])")
            let hidden = relu(conv(level, context))
            logits.append(reshape(channelsLast(classLogits(hidden, context)), [-1, 1]))
            deltas.append(reshape(channelsLast(boxPrediction(hidden, context)), [-1, 4]))
        }
        return (concatenateRows(logits), concatenateRows(deltas))
    }
}

/// RPN losses of one image (spec §3.5).
public struct RPNLosses {
    /// BCE-with-logits, mean over the sampled anchors.
    public var objectness: Variable
    /// L1 (torchvision 0.3), summed over the sampled positives' deltas, divided by the sampled count.
    public var boxRegression: Variable
}

/// Region proposal network: anchors, head, proposal filtering and, in training, its losses.
public final class RegionProposalNetwork {
    public let head: RPNHead
    public let anchorGenerator: AnchorGenerator
    let configuration: MaskRCNNConfiguration
    let boxCoder = BoxCoder(weights: (1, 1, 1, 1))
    let matcher: Matcher
    let sampler: BalancedPositiveNegativeSampler

    public init(_ scope: ParameterScope, configuration: MaskRCNNConfiguration, generator: inout SeededGenerator) {
        self.configuration = configuration
        anchorGenerator = AnchorGenerator(sizes: configuration.anchorSizes, aspectRatios: configuration.aspectRatios)
        head = RPNHead(scope.child("head"), inChannels: 256, anchorsPerLocation: configuration.anchorsPerLocation,
                       generator: &generator)
        matcher = Matcher(highThreshold: configuration.rpnForegroundIoU, lowThreshold: configuration.rpnBackgroundIoU,
                          allowLowQualityMatches: true)
        sampler = BalancedPositiveNegativeSampler(batchSizePerImage: configuration.rpnBatchSizePerImage,
                                                  positiveFraction: configuration.rpnPositiveFraction)
    }

    /// The output of one RPN pass.
    public struct Output {
        /// Proposals `[P, 4]` in the resized image, sorted by objectness (detached: no gradient flows
        /// through proposal coordinates).
        public var proposals: Tensor
        /// Losses, in training.
        public var losses: RPNLosses?
    }

    /// Runs the RPN on the pyramid of one image. `training` selects the top-n values and computes losses
    /// against `target` (an empty target makes every anchor a negative).
    public func callAsFunction(_ levels: [Variable], image: TransformedImage, training: Bool,
                               target: DetectionTarget?, context: ForwardContext,
                               generator: inout SeededGenerator) -> Output {
        let (objectness, deltas) = head(levels, context)
        let featureSizes = levels.map { (height: $0.shape[2], width: $0.shape[3]) }
        let levelAnchors = anchorGenerator.anchors(imageHeight: image.batch.shape[2], imageWidth: image.batch.shape[3],
                                                   featureSizes: featureSizes)
        let proposals = filterProposals(objectness: objectness.value, deltas: deltas.value, levelAnchors: levelAnchors,
                                        image: image, training: training)
        var losses: RPNLosses? = nil
        if training, let target {
            let anchors = Tensor(concatenatingBoxes: levelAnchors)
            losses = computeLosses(objectness: objectness, deltas: deltas, anchors: anchors, target: target,
                                   generator: &generator)
        }
        return Output(proposals: proposals, losses: losses)
    }

    /// Spec §3.4: per level top-k by logit, decode, clip, (min size 0), batched NMS by level, keep top-n.
    /// Public for the benchmarks, which time each part of a forward pass.
    public func filterProposals(objectness: Tensor, deltas: Tensor, levelAnchors: [Tensor], image: TransformedImage,
                         training: Bool) -> Tensor {
        let preNMS = training ? configuration.rpnPreNMSTopNTrain : configuration.rpnPreNMSTopNTest
        let postNMS = training ? configuration.rpnPostNMSTopNTrain : configuration.rpnPostNMSTopNTest
        let scores = objectness.scalars
        var candidateRows: [Int] = [], candidateLevels: [Int] = [], candidateAnchors: [Float] = []
        var offset = 0
        for (level, anchors) in levelAnchors.enumerated() {
            let count = anchors.shape[0]
            let top = Self.topIndices(scores, range: offset..<(offset + count), k: min(preNMS, count))
            let anchorValues = anchors.scalars
            for row in top {
                candidateRows.append(row)
                candidateLevels.append(level)
                candidateAnchors.append(contentsOf: anchorValues[(4 * (row - offset))..<(4 * (row - offset) + 4)])
            }
            offset += count
        }
        let selectedDeltas = Tensor(shape: [candidateRows.count, 4]) { out in
            deltas.withUnsafeBufferPointer { d in
                for (i, row) in candidateRows.enumerated() { for j in 0..<4 { out[4 * i + j] = d[4 * row + j] } }
            }
        }
        let anchorTensor = Tensor(shape: [candidateRows.count, 4], scalars: candidateAnchors)
        var boxes = boxCoder.decode(deltas: selectedDeltas, boxes: anchorTensor).reshaped([candidateRows.count, 4])
        boxes = BoxOperations.clip(boxes, height: image.height, width: image.width)
        let candidateScores = candidateRows.map { scores[$0] }
        let kept = BoxOperations.removeSmall(boxes, minSize: 0)
        let keptBoxes = boxes.rows(kept)
        let nmsKeep = BoxOperations.batchedNMS(boxes: keptBoxes, scores: kept.map { candidateScores[$0] },
                                               groups: kept.map { candidateLevels[$0] },
                                               iouThreshold: configuration.rpnNMSThreshold)
        return keptBoxes.rows(Array(nmsKeep.prefix(postNMS)))
    }

    /// Spec §3.5: match anchors to gt, sample 256 with ≤ 75% positives, BCE on the sample, L1 on positives.
    func computeLosses(objectness: Variable, deltas: Variable, anchors: Tensor, target: DetectionTarget,
                       generator: inout SeededGenerator) -> RPNLosses {
        let iou = BoxOperations.iou(target.boxes, anchors)
        let matches = matcher(iou)
        // 1 positive, 0 negative, −1 ignored.
        let labels = matches.map { $0 >= 0 ? 1 : ($0 == Matcher.belowLowThreshold ? 0 : -1) }
        let (positive, negative) = sampler(labels, generator: &generator)
        return Self.losses(objectness: objectness, deltas: deltas, anchors: anchors, target: target,
                           matches: matches, positive: positive, negative: negative, boxCoder: boxCoder)
    }

    /// The loss formulas with the sample fixed (used directly by parity tests).
    public static func losses(objectness: Variable, deltas: Variable, anchors: Tensor, target: DetectionTarget,
                              matches: [Int], positive: [Int], negative: [Int], boxCoder: BoxCoder) -> RPNLosses {
        let sampled = positive + negative
        let sampledLogits = gatherRows(objectness, sampled)
        let labels = Tensor(shape: [sampled.count, 1],
                            scalars: positive.map { _ in Float(1) } + negative.map { _ in Float(0) })
        let objectnessLoss = binaryCrossEntropyWithLogits(logits: sampledLogits, targets: labels, reduction: .mean)
        let positiveAnchors = anchors.rows(positive)
        let matchedBoxes = target.boxes.rows(positive.map { matches[$0] })
        let regressionTargets = boxCoder.encode(reference: matchedBoxes, proposals: positiveAnchors)
        let boxLoss: Variable
        if positive.isEmpty {
            boxLoss = Variable(Tensor(scalar: 0))
        } else {
            boxLoss = l1(gatherRows(deltas, positive), target: regressionTargets, reduction: .sum)
                .scaled(by: 1 / Float(sampled.count))
        }
        return RPNLosses(objectness: objectnessLoss, boxRegression: boxLoss)
    }

    /// Indices of the k largest values in `values[range]` (as absolute indices), largest first; ties keep
    /// the lower index first.
    static func topIndices(_ values: [Float], range: Range<Int>, k: Int) -> [Int] {
        let byScore: (Int, Int) -> Bool = { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
        if k >= range.count {
            return Array(range).sorted(by: byScore)
        }
        guard k > 0 else { return [] }
        // The k-th largest value by selection in O(n) (a full sort of the R50 level-0 scores, 491,520 at
        // 512², cost more than the rest of proposal filtering), then a sort of the k survivors only.
        var scratch = Array(values[range])
        let threshold = Self.selectDescending(&scratch, rank: k - 1)
        var selected: [Int] = []
        selected.reserveCapacity(k)
        for index in range where values[index] > threshold { selected.append(index) }
        for index in range where values[index] == threshold && selected.count < k { selected.append(index) }
        selected.sort(by: byScore)
        return selected
    }

    /// The value of rank `rank` (0 = largest) of `values`, which are partially reordered (quickselect with
    /// a median-of-three pivot). NaN-free input is assumed (logits).
    static func selectDescending(_ values: inout [Float], rank: Int) -> Float {
        precondition(rank >= 0 && rank < values.count, "selectDescending: rank \(rank) of \(values.count) values")
        return values.withUnsafeMutableBufferPointer { v -> Float in
            var low = 0, high = v.count - 1
            while low < high {
                let middle = low + (high - low) / 2
                let (a, b, c) = (v[low], v[middle], v[high])
                let pivot = max(min(a, b), min(max(a, b), c))
                var i = low, j = high
                while i <= j {
                    while v[i] > pivot { i += 1 }
                    while v[j] < pivot { j -= 1 }
                    if i <= j {
                        v.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                if rank <= j {
                    high = j
                } else if rank >= i {
                    low = i
                } else {
                    return v[rank]
                }
            }
            return v[rank]
        }
    }
}
