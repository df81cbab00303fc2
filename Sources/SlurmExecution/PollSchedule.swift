import Foundation

/// When to ask Slurm for the run's job states: start fast, slow down geometrically while nothing changes,
/// never beyond a cap, and start fast again after a change (a submission, a state change, a finished job).
///
/// One query per poll covers every job of the run (see `SlurmClient.jobStates(named:)`), so the controller
/// load is at most one query per `initialSeconds`, and one per `maxSeconds` once the run is quiet.
public struct PollSchedule: Sendable, Equatable {
    /// The first interval, and the interval after every change.
    public var initialSeconds = 1.0
    /// The longest interval.
    public var maxSeconds = 60.0
    /// The factor by which the interval grows after each quiet poll.
    public var growth = 1.5

    /// The built-in schedule: 1 s, ×1.5 per quiet poll, at most 60 s.
    public init() {}

    /// A schedule with the given values.
    public init(initialSeconds: Double, maxSeconds: Double, growth: Double) {
        self.initialSeconds = initialSeconds; self.maxSeconds = maxSeconds; self.growth = growth
    }

    /// The interval after `quietPolls` polls in a row that saw no change.
    public func interval(afterQuietPolls quietPolls: Int) -> Double {
        min(maxSeconds, initialSeconds * pow(growth, Double(max(0, quietPolls))))
    }

    /// The most queries a run of `seconds` can make when every poll sees a change (the bound tests assert).
    public func maximumQueries(overSeconds seconds: Double) -> Int { Int((seconds / initialSeconds).rounded(.up)) + 1 }
}
