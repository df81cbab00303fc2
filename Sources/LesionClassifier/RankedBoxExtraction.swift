import Foundation
import NeuralNetwork
import ObjectDetection
import TensorCore

/// The classifier RoI head's output for one image (spec §4.7): D rows of [score, dx, dy, dw, dh], with the
/// row-class option followed by the row's class one-hot, with the row-box option by its box geometry.
public struct RankedBoxes {
    /// `[D, 5]` (`[D, 5 + n_c − 1]` with class columns, 4 more with box columns), differentiable through the
    /// softmax scores and the raw class-specific deltas; the class and box columns are constants.
    public var rows: Variable
    /// How many distinct candidates survived NMS before padding (k).
    public var survivorCount: Int
    /// The candidate behind each of the D rows (indices into the survivors, descending score), for tests.
    public var slotSurvivors: [Int]
}

/// How a ranked row's score column encodes the softmax probability p of its class.
public enum RankedScoreEncoding: String, Codable, CaseIterable, Sendable {
    /// p itself (the seed).
    case probability
    /// log(1 + p/ε) / log(1 + 1/ε), ε = `RankedBoxExtraction.logScoreFloor`: still 0 for p = 0 and 1 for
    /// p = 1, but p = 0.001, 0.02 and 0.5 become 0.26, 0.58 and 0.92, so the many near-zero scores of a
    /// slice stay apart by orders of magnitude instead of by hundredths. (A plain log(p + ε) in [−9.2, 0]
    /// gave S inputs of −9 on most rows and a first loss of 60–110 instead of about 1.)
    case log
}

/// One candidate that survived per-class NMS: the proposal it came from, its class (1…n_c−1) and its box.
public struct RankedSurvivor: Equatable, Sendable {
    /// Row of the proposal (and of the predictor outputs) the candidate came from.
    public var proposal: Int
    /// Its class label (1…n_c−1), which selects the score column and the 4 delta columns.
    public var label: Int
    /// Its decoded, clipped box as (centre x, centre y, width, height) over the resized image's width and
    /// height, each in [0, 1]: the row-box columns.
    public var geometry: SIMD4<Float>

    /// A survivor of `proposal` with class `label` and box `geometry`.
    public init(proposal: Int, label: Int, geometry: SIMD4<Float> = .zero) {
        self.proposal = proposal
        self.label = label
        self.geometry = geometry
    }
}

/// Spec §4.7 and Appendix D/B6, B7, B25: candidates from every proposal without score filtering,
/// per-class NMS, the top D rows, and the seeded contiguous-run padding when fewer than D survive.
///
/// The work is split in two so that the deterministic part can be checked on its own: `survivors`
/// (decode, clip, area filter, NMS, top D — all on detached values) and `rows` (the differentiable
/// gather of [score, raw deltas] for a given slot assignment). `callAsFunction` joins them with the
/// seeded padding.
public struct RankedBoxExtraction {
    /// D, the number of rows given to S.
    public let roiBatchSize: Int
    /// IoU threshold of the per-class NMS (`roi_nms_th`).
    public let nmsThreshold: Float
    /// One-hot class columns after the 5 seed columns: 0 in the seed, n_c − 1 with the row-class option.
    public let classColumns: Int
    /// Whether the box geometry (`boxColumnCount` columns) follows the class columns; not in the seed.
    public let boxColumns: Bool
    /// What the score column holds.
    public let scoreEncoding: RankedScoreEncoding

    /// ε of the log encoding: scores below it all map to about 0 (what a softmax gives a clear background).
    public static let logScoreFloor: Float = 1e-4

    /// Columns of the box geometry: centre x, centre y, width, height.
    public static let boxColumnCount = 4

    /// Columns per row.
    public var rowWidth: Int { Self.rowWidth(classColumns: classColumns, boxColumns: boxColumns) }

    /// Columns of a row with `classColumns` class columns and, when `boxColumns`, the box geometry: the one
    /// place the layout's width is counted, for the extraction and for S built beside it.
    public static func rowWidth(classColumns: Int, boxColumns: Bool) -> Int {
        5 + classColumns + (boxColumns ? boxColumnCount : 0)
    }

    /// An extraction producing `roiBatchSize` rows with per-class NMS at `nmsThreshold`, each row followed by
    /// `classColumns` one-hot columns of its class (1…classColumns) when that is not 0 and by its box
    /// geometry when `boxColumns`, the score encoded as `scoreEncoding` says.
    public init(roiBatchSize: Int, nmsThreshold: Float, classColumns: Int = 0, boxColumns: Bool = false,
                scoreEncoding: RankedScoreEncoding = .probability) {
        precondition(roiBatchSize > 0, "the classifier needs D ≥ 1 ranked rows, got \(roiBatchSize)")
        precondition(classColumns >= 0, "class columns cannot be negative, got \(classColumns)")
        self.roiBatchSize = roiBatchSize
        self.nmsThreshold = nmsThreshold
        self.classColumns = classColumns
        self.boxColumns = boxColumns
        self.scoreEncoding = scoreEncoding
    }

    /// `logits [R, n_c]`, `deltas [R, 4·n_c]` of the box predictor over `proposals [R, 4]` → `[D, w]` rows.
    public func callAsFunction(logits: Variable, deltas: Variable, proposals: Tensor, image: TransformedImage,
                               roiHeads: RoIHeads, generator: inout SeededGenerator) -> RankedBoxes {
        let kept = survivors(logits: logits.value, deltas: deltas.value, proposals: proposals, image: image,
                             roiHeads: roiHeads)
        let slots = Self.paddingSlots(survivors: kept.count, rows: roiBatchSize, generator: &generator)
        return rows(logits: logits, deltas: deltas, survivors: kept, slots: slots)
    }

    /// The at most D candidates kept by per-class NMS, in descending score order (spec §4.7 steps 1–3).
    /// Decoding, clipping, area filter and NMS run on detached values: no gradient flows through proposal
    /// coordinates or selection (spec §4.7 step 6). No score threshold, whatever the detector's
    /// configuration says (B25).
    public func survivors(logits: Tensor, deltas: Tensor, proposals: Tensor, image: TransformedImage,
                          roiHeads: RoIHeads) -> [RankedSurvivor] {
        let candidates = roiHeads.candidates(logits: logits, deltas: deltas, proposals: proposals, image: image)
        let boxes = Tensor(shape: [candidates.scores.count, 4], scalars: candidates.boxes)
        let keep = BoxOperations.batchedNMS(boxes: boxes, scores: candidates.scores, groups: candidates.labels,
                                            iouThreshold: nmsThreshold).prefix(roiBatchSize)
        let width = Float(image.width), height = Float(image.height)
        return keep.map { index in
            let b = candidates.boxes, base = 4 * index
            let (x1, y1, x2, y2) = (b[base], b[base + 1], b[base + 2], b[base + 3])
            let geometry = SIMD4((x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)
            return RankedSurvivor(proposal: candidates.rows[index], label: candidates.labels[index], geometry: geometry)
        }
    }

    /// The `[D, w]` rows [softmax score of the survivor's class, its raw dx, dy, dw, dh (, class one-hot)
    /// (, box geometry)] with slot i holding survivor `slots[i]`. Repeated survivors accumulate gradient. No
    /// survivors give D zero rows (B6).
    public func rows(logits: Variable, deltas: Variable, survivors: [RankedSurvivor], slots: [Int]) -> RankedBoxes {
        guard !survivors.isEmpty else {
            // k = 0: D zero rows, never a crash (Appendix D/B6). S still sees its biases' response. (Both
            // encodings give a zero score 0.)
            return RankedBoxes(rows: Variable(Tensor(shape: [roiBatchSize, rowWidth])), survivorCount: 0, slotSurvivors: [])
        }
        precondition(slots.count == roiBatchSize && slots.allSatisfy { $0 >= 0 && $0 < survivors.count },
                     "rows needs \(roiBatchSize) slots indexing \(survivors.count) survivors, got \(slots)")
        let proposalRows = slots.map { survivors[$0].proposal }
        let labels = slots.map { survivors[$0].label }
        var scores = gatherBlocks(softmaxRows(logits), rows: proposalRows, blocks: labels, blockWidth: 1)  // [D, 1]
        if scoreEncoding == .log { scores = logCompress(scores, floor: Self.logScoreFloor) }
        let rawDeltas = gatherBlocks(deltas, rows: proposalRows, blocks: labels, blockWidth: 4)            // [D, 4]
        var columns = [scores, rawDeltas]
        if classColumns > 0 { columns.append(Variable(classOneHot(labels))) }
        if boxColumns { columns.append(Variable(boxGeometry(slots.map { survivors[$0].geometry }))) }
        return RankedBoxes(rows: concatenateColumns(columns), survivorCount: survivors.count, slotSurvivors: slots)
    }

    /// `[D, classColumns]` with a 1 in column label − 1 of each row: constants, so no gradient flows into them.
    func classOneHot(_ labels: [Int]) -> Tensor {
        var oneHot = Tensor(shape: [labels.count, classColumns])
        for (row, label) in labels.enumerated() {
            precondition(label >= 1 && label <= classColumns, "a ranked row's class must be 1…\(classColumns), got \(label)")
            oneHot[row, label - 1] = 1
        }
        return oneHot
    }

    /// `[D, 4]` of each row's box geometry: constants, like the class columns (selection and decoding are
    /// detached, spec §4.7 step 6).
    func boxGeometry(_ geometries: [SIMD4<Float>]) -> Tensor {
        var columns = Tensor(shape: [geometries.count, Self.boxColumnCount])
        for (row, geometry) in geometries.enumerated() {
            for column in 0..<Self.boxColumnCount { columns[row, column] = geometry[column] }
        }
        return columns
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
        return slots(boundaries: [0] + cuts + [d])
    }

    /// Survivor i fills positions [boundaries[i], boundaries[i+1]).
    static func slots(boundaries: [Int]) -> [Int] {
        var slots: [Int] = []
        slots.reserveCapacity(boundaries.last ?? 0)
        for survivor in 0..<(boundaries.count - 1) {
            slots.append(contentsOf: [Int](repeating: survivor, count: boundaries[survivor + 1] - boundaries[survivor]))
        }
        return slots
    }
}
