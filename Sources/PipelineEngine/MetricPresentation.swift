/// How a stage kind's metrics are shown in run reports. The engine knows nothing about what a metric
/// means; a kind says which of its metrics a reader looks for first, which carry a confidence interval
/// in two other metrics, and which are a quality (higher is better) or a cost (lower is better), so that
/// sweeps get heat maps and trade-off plots without the engine naming a single metric.
public struct MetricPresentation: Sendable, Equatable {
    /// An interval reported as two other metrics (e.g. `sensitivity_covid_lower`, `…_upper`).
    public struct Interval: Sendable, Equatable {
        public var lower: String, upper: String
        /// What the interval is ("95% Wilson").
        public var kind: String
        public init(lower: String, upper: String, kind: String) { self.lower = lower; self.upper = upper; self.kind = kind }
    }

    /// The metrics shown first, in this order; the rest are folded away.
    public var headline: [String]
    /// Metric → its interval.
    public var intervals: [String: Interval]
    /// Metrics where higher is better (the y axis of trade-off plots; heat-mapped in sweeps).
    public var quality: [String]
    /// Metrics where lower is better, such as size or time (the x axis of trade-off plots; heat-mapped in sweeps).
    public var cost: [String]
    /// Readable names for metric keys ("seed mAP" for `seed_map`).
    public var labels: [String: String]

    public init(headline: [String], intervals: [String: Interval] = [:], quality: [String] = [], cost: [String] = [],
                labels: [String: String] = [:]) {
        self.headline = headline; self.intervals = intervals; self.quality = quality; self.cost = cost; self.labels = labels
    }

    /// The readable name of a metric (its key when none is given).
    public func label(_ metric: String) -> String { labels[metric] ?? metric }
}

/// A stage kind that tells run reports how to present its metrics (kinds without it get every metric,
/// alphabetically).
public protocol PresentsMetrics {
    /// The presentation of the kind's metrics.
    var metricPresentation: MetricPresentation { get }
}

extension KindRegistry {
    /// Kind name → presentation, for the kinds that declare one.
    public var metricPresentations: [String: MetricPresentation] {
        kinds.compactMapValues { ($0 as? PresentsMetrics)?.metricPresentation }
    }
}
