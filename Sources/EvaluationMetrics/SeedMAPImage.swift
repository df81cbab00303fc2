
/// One image of seed-mAP evaluation: its ground-truth instances (after the dataset's small-object filter)
/// and the model's predictions (after its score filter); all masks share the image's `[H, W]`.
public struct SeedMAPImage: Equatable, Sendable {
    /// Ground-truth instances in dataset order (the order matters for matching, spec §7.1.4).
    public var groundTruths: [SeedMAPGroundTruth]
    /// Predictions in any order (they are sorted by score).
    public var predictions: [SeedMAPPrediction]

    /// An image's instances.
    public init(groundTruths: [SeedMAPGroundTruth], predictions: [SeedMAPPrediction]) {
        self.groundTruths = groundTruths
        self.predictions = predictions
    }
}
