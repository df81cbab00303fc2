/// What each ranked row given to S holds beyond the seed's [score, dx, dy, dw, dh]. The row options travel
/// as this one value from the `transfer_weights` stage to the classifier's configuration, so a new option
/// changes this type rather than every signature on the way.
public struct RankedRowLayout: Equatable, Sendable {
    /// One-hot lesion-class columns after the seed's five (see `ClassifierConfiguration.rowClassColumns`).
    public var classColumns: Bool
    /// What the score column holds (see `ClassifierConfiguration.scoreEncoding`).
    public var scoreEncoding: RankedScoreEncoding

    /// The seed's rows: no class columns, the probability itself.
    public static let seed = RankedRowLayout()

    /// A layout; the defaults are the seed's.
    public init(classColumns: Bool = false, scoreEncoding: RankedScoreEncoding = .probability) {
        self.classColumns = classColumns
        self.scoreEncoding = scoreEncoding
    }
}
