
/// The seed's matching of one image at one threshold (`compute_matches`).
public struct SeedMAPMatches: Equatable, Sendable {
    /// Prediction indices in descending score order: `order[i]` is the i-th prediction visited.
    public var order: [Int]
    /// For each ground truth, the matched position in `order`, or −1.
    public var groundTruthMatch: [Int]
    /// For each position in `order`, the matched ground truth (the last one that claimed it), or −1.
    public var predictionMatch: [Int]
}
