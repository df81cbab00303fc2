import TensorCore

/// Assigns each anchor or proposal to its best ground-truth box by IoU (torchvision 0.3.0 `Matcher`,
/// spec §3.5 and §4.4).
public struct Matcher: Sendable {
    /// Match value for a best IoU below `lowThreshold` (a negative).
    public static let belowLowThreshold = -1
    /// Match value for a best IoU in `[lowThreshold, highThreshold)` (ignored).
    public static let betweenThresholds = -2

    /// IoU at or above which a match is positive.
    public let highThreshold: Float
    /// IoU below which a match is negative.
    public let lowThreshold: Float
    /// Whether each ground truth gets back the anchors that tie for its highest IoU (RPN: true).
    public let allowLowQualityMatches: Bool

    /// A matcher with the given thresholds (`lowThreshold ≤ highThreshold`).
    public init(highThreshold: Float, lowThreshold: Float, allowLowQualityMatches: Bool) {
        precondition(lowThreshold <= highThreshold,
                     "Matcher low threshold \(lowThreshold) exceeds high threshold \(highThreshold)")
        self.highThreshold = highThreshold
        self.lowThreshold = lowThreshold
        self.allowLowQualityMatches = allowLowQualityMatches
    }

    /// Per column of `iou` `[G, A]` (ground truths × anchors): the index of the best ground truth when
    /// its IoU is ≥ high, `belowLowThreshold` when < low, `betweenThresholds` otherwise.
    ///
    /// With low-quality matches, for each ground truth every anchor whose IoU equals that ground truth's
    /// maximum gets its own best ground truth back, even below the thresholds. As in the seed this also
    /// holds when that maximum is 0 (a ground truth touching no anchor re-labels all anchors it has IoU 0
    /// with). Ties between ground truths for one anchor go to the lowest index.
    ///
    /// An image without ground truth (`G = 0`) makes every anchor negative (`belowLowThreshold`), as
    /// torchvision ≥ 0.6 does for background-only images (the seed's 0.3 raised an error there).
    public func callAsFunction(_ iou: Tensor) -> [Int] {
        precondition(iou.rank == 2, "Matcher needs an IoU matrix [G, A], got \(iou.shape)")
        let (g, a) = (iou.shape[0], iou.shape[1])
        if g == 0 { return [Int](repeating: Matcher.belowLowThreshold, count: a) }
        precondition(a > 0, "Matcher got no anchors or proposals (IoU matrix \(iou.shape))")
        return iou.withUnsafeBufferPointer { q in
            var best = [Int](repeating: 0, count: a)
            var bestValue = Array(q[0..<a])
            for row in 1..<g {
                let base = row * a
                for j in 0..<a where q[base + j] > bestValue[j] {
                    bestValue[j] = q[base + j]
                    best[j] = row
                }
            }
            var matches = best
            for j in 0..<a {
                if bestValue[j] < lowThreshold {
                    matches[j] = Matcher.belowLowThreshold
                } else if bestValue[j] < highThreshold {
                    matches[j] = Matcher.betweenThresholds
                }
            }
            if allowLowQualityMatches {
                for row in 0..<g {
                    let base = row * a
                    var highest = q[base]
                    for j in 1..<a where q[base + j] > highest { highest = q[base + j] }
                    for j in 0..<a where q[base + j] == highest { matches[j] = best[j] }
                }
            }
            return matches
        }
    }
}
