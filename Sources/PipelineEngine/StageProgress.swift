import Foundation

/// Progress inside a stage (training reports epoch, step, loss and throughput).
public struct StageProgress: Sendable, Equatable {
    /// Current epoch (1-based), if the stage has epochs.
    public var epoch: Int?
    /// Total epochs.
    public var epochs: Int?
    /// Current step within the epoch or the stage.
    public var step: Int?
    /// Total steps.
    public var steps: Int?
    /// Latest loss.
    public var loss: Double?
    /// Items per second (`unit` says which items).
    public var throughput: Double?
    /// The items counted by `throughput` ("images").
    public var unit: String?
    /// Fraction of the stage done in [0, 1]; drives the ETA.
    public var fraction: Double?
    /// A free-form note.
    public var message: String?

    /// Creates a progress report; every field is optional.
    public init(epoch: Int? = nil, epochs: Int? = nil, step: Int? = nil, steps: Int? = nil, loss: Double? = nil,
                throughput: Double? = nil, unit: String? = nil, fraction: Double? = nil, message: String? = nil) {
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.steps = steps; self.loss = loss
        self.throughput = throughput; self.unit = unit; self.fraction = fraction; self.message = message
    }
}

/// Where an ETA counts from: the first fraction a stage reported and when. A stage that resumed at 40 %
/// is then timed by its progress since resuming, not as if those 40 % had taken the seconds since it started.
public struct ProgressOrigin: Sendable, Equatable {
    /// The first fraction reported.
    public var fraction: Double
    /// When it was reported.
    public var time: Date

    /// An origin at `fraction`, reported at `time`.
    public init(fraction: Double, time: Date) {
        self.fraction = fraction
        self.time = time
    }

    /// Seconds left at `fraction` reported at `now`, at the pace since the origin; nil before any progress
    /// beyond it.
    public func secondsLeft(at fraction: Double, now: Date) -> Double? {
        guard fraction > self.fraction, fraction <= 1 else { return nil }
        return now.timeIntervalSince(time) * (1 - fraction) / (fraction - self.fraction)
    }
}
