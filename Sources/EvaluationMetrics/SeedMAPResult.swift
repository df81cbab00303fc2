
/// Dataset-level seed-mAP results: AP at every IoU threshold and their mean.
public struct SeedMAPResult: Equatable, Sendable, Codable {
    /// The IoU thresholds used, ascending (float32, spec §7.1.1).
    public var thresholds: [Float]
    /// Dataset AP at each threshold: the mean of the per-image APs over all images.
    public var averagePrecisions: [Double]
    /// Per-image AP `[threshold][image]`.
    public var perImage: [[Float]]

    /// `mAP`: the mean of the dataset APs over the thresholds (0 for no thresholds).
    public var mean: Double {
        averagePrecisions.isEmpty ? 0 : averagePrecisions.reduce(0, +) / Double(averagePrecisions.count)
    }

    /// AP at a threshold, matched to the nearest used threshold within 1e-4 (so `apAt(0.7)` finds
    /// 0.70000005), or nil when no used threshold is that close.
    public func apAt(_ threshold: Float) -> Double? {
        guard let index = thresholds.indices.min(by: { abs(thresholds[$0] - threshold) < abs(thresholds[$1] - threshold) }),
              abs(thresholds[index] - threshold) <= 1e-4 else { return nil }
        return averagePrecisions[index]
    }

    /// Printed lines as the seed prints them: `mAP:0.4476` then `AP@0.50:0.5988` ... `AP@0.95:...`.
    public var summaryLines: [String] {
        ["mAP:" + _fixed4(mean)] + zip(thresholds, averagePrecisions).map { "AP@" + _fixed2(Double($0)) + ":" + _fixed4($1) }
    }
}
