import NeuralNetwork
import ObjectDetection
import TensorCore

/// The classifier RoI head's output for one image (spec §4.7): D rows of [score, dx, dy, dw, dh].
public struct RankedBoxes {
    /// `[D, 5]`, differentiable through the softmax scores and the raw class-specific deltas.
    public var rows: Variable
    /// How many distinct candidates survived NMS before padding (k).
    public var survivorCount: Int
    /// The candidate behind each of the D rows (indices into the survivors, descending score), for tests.
    public var slotSurvivors: [Int]
}

/// Spec §4.7 and Appendix D/B6, B7, B25: candidates from every proposal without score filtering,
/// per-class NMS, the top D rows, and the seeded contiguous-run padding when fewer than D survive.
public struct RankedBoxExtraction {
    public let roiBatchSize: Int
    public let nmsThreshold: Float

    public init(roiBatchSize: Int, nmsThreshold: Float) {
        self.roiBatchSize = roiBatchSize
        self.nmsThreshold = nmsThreshold
    }

    /// `logits [R, n_c]`, `deltas [R, 4·n_c]` of the box predictor over `proposals [R, 4]`.
    public func callAsFunction(logits: Variable, deltas: Variable, proposals: Tensor, image: TransformedImage,
                               roiHeads: RoIHeads, generator: inout SeededGenerator) -> RankedBoxes {
        // Decoding, clipping, area filter and NMS run on detached values: no gradient flows through
        // proposal coordinates or selection (spec §4.7 step 6). No score threshold (B25).
        let candidates = roiHeads.candidates(logits: logits.value, deltas: deltas.value, proposals: proposals, image: image)
        let boxes = Tensor(shape: [candidates.scores.count, 4], scalars: candidates.boxes)
        let keep = Array(BoxOperations.batchedNMS(boxes: boxes, scores: candidates.scores, groups: candidates.labels,
                                                  iouThreshold: nmsThreshold).prefix(roiBatchSize))
        let slots = Self.paddingSlots(survivors: keep.count, rows: roiBatchSize, generator: &generator)
        guard !keep.isEmpty else {
            // k = 0: D zero rows, never a crash (Appendix D/B6).
            return RankedBoxes(rows: Variable(Tensor(shape: [roiBatchSize, 5])), survivorCount: 0, slotSurvivors: [])
        }
        let rows = slots.map { candidates.rows[keep[$0]] }
        let labels = slots.map { candidates.labels[keep[$0]] }
        let probabilities = softmaxRows(logits)
        let scores = gatherBlocks(probabilities, rows: rows, blocks: labels, blockWidth: 1)  // [D, 1]
        let rawDeltas = gatherBlocks(deltas, rows: rows, blocks: labels, blockWidth: 4)    // [D, 4]
        return RankedBoxes(rows: concatenateColumns([scores, rawDeltas]), survivorCount: keep.count, slotSurvivors: slots)
    }

    /// Which survivor fills each of the D slots. k ≥ D: the first D in order. 0 < k < D: the seed's
    /// contiguous runs — k − 1 distinct cut points drawn uniformly from {1, …, D − 2} (a permutation of
    /// 0…D−3, its first k − 1 entries, +1, sorted), boundaries [0, cuts…, D], survivor i fills
    /// [boundary_i, boundary_{i+1}). Drawn from our seeded generator instead of the wall clock (B6).
    public static func paddingSlots(survivors k: Int, rows d: Int, generator: inout SeededGenerator) -> [Int] {
        if k == 0 { return [] }
        if k >= d { return Array(0..<d) }
        precondition(d >= 3 || k == 1, "padding needs D ≥ 3 when 1 < k < D (D = \(d), k = \(k))")
        let cuts = k > 1 ? generator.sample(k - 1, from: d - 2).map { $0 + 1 }.sorted() : []
        let boundaries = [0] + cuts + [d]
        var slots: [Int] = []
        slots.reserveCapacity(d)
        for survivor in 0..<k {
            slots.append(contentsOf: [Int](repeating: survivor, count: boundaries[survivor + 1] - boundaries[survivor]))
        }
        return slots
    }
}
