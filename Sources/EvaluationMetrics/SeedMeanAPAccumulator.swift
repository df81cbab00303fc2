
/// Accumulates seed mAP image by image, keeping only the per-image APs (no masks), so a whole test
/// set of 512×512 slices with up to 128 detections each fits in memory.
public struct SeedMeanAPAccumulator: Sendable {
    /// The IoU thresholds.
    public let thresholds: [Float]
    /// Per-image AP `[threshold][image]` so far.
    public private(set) var perImage: [[Float]]

    /// An empty accumulator.
    public init(thresholds: [Float] = SeedMeanAP.thresholds) {
        self.thresholds = thresholds
        self.perImage = thresholds.map { _ in [] }
    }

    /// Adds one image's per-threshold APs.
    public mutating func add(_ image: SeedMAPImage) {
        for (t, ap) in SeedMeanAP.averagePrecisions(image: image, thresholds: thresholds).enumerated() {
            perImage[t].append(ap)
        }
    }

    /// Number of images added.
    public var imageCount: Int { perImage.first?.count ?? 0 }

    /// Dataset AP per threshold (mean over the images added) and their mean.
    public var result: SeedMAPResult {
        let dataset = perImage.map { aps in aps.isEmpty ? 0 : aps.reduce(0.0) { $0 + Double($1) } / Double(aps.count) }
        return SeedMAPResult(thresholds: thresholds, averagePrecisions: dataset, perImage: perImage)
    }
}
