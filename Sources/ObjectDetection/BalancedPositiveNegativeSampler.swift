import TensorCore

/// Draws a fixed-size training sample of positive and negative anchors or proposals per image
/// (torchvision 0.3.0 `BalancedPositiveNegativeSampler`, spec §3.5 and §4.4).
public struct BalancedPositiveNegativeSampler: Sendable {
    /// Number of sampled elements per image (positives + negatives, when enough exist).
    public let batchSizePerImage: Int
    /// Largest share of positives in the sample.
    public let positiveFraction: Float

    /// A sampler of `batchSizePerImage` elements with at most `positiveFraction` positives.
    public init(batchSizePerImage: Int, positiveFraction: Float) {
        precondition(batchSizePerImage > 0 && positiveFraction >= 0 && positiveFraction <= 1,
                     "sampler needs a positive batch and a fraction in [0, 1], got \(batchSizePerImage), \(positiveFraction)")
        self.batchSizePerImage = batchSizePerImage
        self.positiveFraction = positiveFraction
    }

    /// Samples from `labels` (≥ 1 positive, 0 negative, −1 ignored): num_pos = min(#pos,
    /// int(batch·fraction)), num_neg = min(#neg, batch − num_pos), each a uniform random subset drawn
    /// with `generator` (positives first, then negatives, so the stream is reproducible).
    ///
    /// The indices are returned in increasing order, as torchvision's `nonzero` of the sampled masks
    /// gives them to the loss.
    public func callAsFunction(_ labels: [Int], generator: inout SeededGenerator) -> (positive: [Int], negative: [Int]) {
        let positives = labels.indices.filter { labels[$0] >= 1 }
        let negatives = labels.indices.filter { labels[$0] == 0 }
        // int(batch · fraction) in double, like Python's int() of a float product.
        let positiveQuota = Int(Double(batchSizePerImage) * Double(positiveFraction))
        let positiveCount = min(positives.count, positiveQuota)
        let negativeCount = min(negatives.count, batchSizePerImage - positiveCount)
        let positive = generator.sample(positiveCount, from: positives.count).map { positives[$0] }.sorted()
        let negative = generator.sample(negativeCount, from: negatives.count).map { negatives[$0] }.sorted()
        return (positive, negative)
    }
}
