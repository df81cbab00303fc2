/// What each ranked row given to S holds beyond the seed's [score, dx, dy, dw, dh]. The row options travel
/// as this one value from the `transfer_weights` stage to the classifier's configuration, so a new option
/// changes this type rather than every signature on the way.
public struct RankedRowLayout: Equatable, Sendable {
    /// One-hot lesion-class columns after the seed's five (see `ClassifierConfiguration.rowClassColumns`).
    public var classColumns: Bool
    /// The row's box geometry after the class columns (see `ClassifierConfiguration.rowBoxColumns`).
    public var boxColumns: Bool
    /// What the score column holds (see `ClassifierConfiguration.scoreEncoding`).
    public var scoreEncoding: RankedScoreEncoding

    /// The seed's rows: no class or box columns, the probability itself.
    public static let seed = RankedRowLayout()

    /// A layout; the defaults are the seed's.
    public init(classColumns: Bool = false, boxColumns: Bool = false, scoreEncoding: RankedScoreEncoding = .probability) {
        self.classColumns = classColumns
        self.boxColumns = boxColumns
        self.scoreEncoding = scoreEncoding
    }
}
