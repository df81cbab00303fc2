
/// One ground-truth lesion instance of a seed-mAP image.
public struct SeedMAPGroundTruth: Equatable, Sendable {
    /// Instance mask `[H, W]`.
    public var mask: BinaryMask
    /// Class label (1 = GGO, 2 = consolidation for `both`; 1 = lesion for `merge`/`ggo`).
    public var label: Int

    /// A ground-truth instance.
    public init(mask: BinaryMask, label: Int) {
        self.mask = mask
        self.label = label
    }
}
