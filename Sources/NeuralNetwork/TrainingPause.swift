import Foundation

/// Where a training run stands inside an epoch when it stopped between two steps: `done` of `steps`
/// progress units (steps for the detector, slices for the classifier) of the 0-based `epoch`.
public struct TrainingResumePoint: Equatable, Sendable {
    public var epoch: Int
    public var done: Int
    public var steps: Int

    public init(epoch: Int, done: Int, steps: Int) { self.epoch = epoch; self.done = done; self.steps = steps }

    /// The global step of the last step done (the scalar journal's x axis).
    public var globalStep: Int { epoch * steps + done }
}

/// Thrown by a training loop asked to pause (Slurm's USR2 before a time limit or preemption): it wrote a
/// resumable checkpoint of exactly where it was, between two steps, and stopped. Resuming from that
/// checkpoint gives the numbers of a run that never stopped: weights, Adam state, the epoch's running
/// sums and its sampling generator are all in it.
public struct TrainingPaused: Error, CustomStringConvertible {
    public var point: TrainingResumePoint
    public var checkpoint: URL

    public init(point: TrainingResumePoint, checkpoint: URL) { self.point = point; self.checkpoint = checkpoint }

    public var description: String {
        "paused in epoch \(point.epoch + 1) after \(point.done) of \(point.steps); \(checkpoint.lastPathComponent) resumes from there"
    }
}
