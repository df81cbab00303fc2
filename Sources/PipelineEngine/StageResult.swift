import Foundation

/// What a stage returns: metrics that gates (`expect:`) check and run records keep.
public struct StageResult: Sendable, Equatable {
    /// Metric name → value (finite).
    public var metrics: [String: Double]

    /// Creates a result.
    public init(metrics: [String: Double] = [:]) { self.metrics = metrics }
}
