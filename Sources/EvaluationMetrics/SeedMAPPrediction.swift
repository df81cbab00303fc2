
/// One predicted instance of a seed-mAP image.
public struct SeedMAPPrediction: Equatable, Sendable {
    /// Binarised mask `[H, W]` (pasted logits `> mask_logits_th`, spec §7.1.2).
    public var mask: BinaryMask
    /// Detection score.
    public var score: Float
    /// Predicted class label.
    public var label: Int

    /// A prediction with a binarised mask.
    public init(mask: BinaryMask, score: Float, label: Int) {
        self.mask = mask
        self.score = score
        self.label = label
    }

    /// A prediction from pasted mask logits `[H, W]` (row-major), binarised as the seed does: `logit > threshold`.
    public init(height: Int, width: Int, maskLogits: [Float], maskThreshold: Float = 0.5, score: Float, label: Int) {
        self.mask = BinaryMask(height: height, width: width, scores: maskLogits, threshold: maskThreshold)
        self.score = score
        self.label = label
    }
}
