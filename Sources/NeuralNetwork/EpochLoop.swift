import Foundation
import TensorCore

/// An epoch stopped between two steps: where its remaining steps start and the trainer's running sums.
/// A paused run's checkpoint holds it (`epoch_in_progress`, see `EpochLoop.positionMetadata`).
public struct EpochInProgress<Sums: Codable>: Codable {
    /// 0-based epoch.
    public var epoch: Int
    /// Position in the epoch's shuffled order where the next step starts.
    public var next: Int
    /// Length of that order: a run resumed on a training set of another size starts the epoch afresh.
    public var length: Int
    /// What the trainer accumulates over the epoch (and, for the detector, its sampling generator).
    public var sums: Sums

    public init(epoch: Int, next: Int, length: Int, sums: Sums) {
        self.epoch = epoch
        self.next = next
        self.length = length
        self.sums = sums
    }

    /// Where a resumed run continues.
    public var resumePoint: TrainingResumePoint { TrainingResumePoint(epoch: epoch, done: next, steps: length) }
}

/// One step of an epoch: which shuffled indices it trains on and how far the epoch has come.
public struct EpochStep {
    /// 0-based epoch.
    public let epoch: Int
    /// The epoch's length (in indices, not steps).
    public let length: Int
    /// Position of the step's first index in the epoch's shuffled order.
    public let position: Int
    /// The step's indices (one for the detector, a batch for the classifier).
    public let indices: ArraySlice<Int>
    /// Where this call started inside the epoch (not 0 after a resume) and when, for rates.
    let resumedAt: Int, started: Date

    /// Position just after the step.
    public var end: Int { position + indices.count }
    /// Indices trained per second since this call started the epoch.
    public var indicesPerSecond: Double { Double(end - resumedAt) / max(Date().timeIntervalSince(started), 1e-9) }
}

/// The epoch skeleton both trainers share: a seeded shuffle per epoch, continuing inside a paused epoch,
/// the pause and cancellation checks before every step, the optimizer step at the scheduled rate, and the
/// checkpoint rule after every epoch (every `checkpointEvery` epochs and after the last). The trainer
/// supplies a step's loss, how an epoch's sums become its record, and how a checkpoint is written.
public final class EpochLoop<Sums: Codable> {
    /// Total epochs (a resumed run continues up to this number).
    public let epochs: Int
    /// Indices per step (1 for the detector, the batch size for the classifier).
    public let stepSize: Int
    let checkpointEvery: Int, seed: UInt64, shuffleStream: String
    let optimizer: Adam, baseRate: Double, schedule: LearningRateSchedule
    /// Epochs done so far.
    public private(set) var completedEpochs = 0
    /// The epoch a paused run stopped inside, until `run` continues it.
    public private(set) var paused: EpochInProgress<Sums>?

    /// Each epoch's order is shuffled by the stream "`shuffleStream`.epoch" of `seed`; `optimizer` steps at
    /// `schedule`'s rate from `baseRate`.
    public init(epochs: Int, stepSize: Int, checkpointEvery: Int, seed: UInt64, shuffleStream: String,
                optimizer: Adam, baseRate: Double, schedule: LearningRateSchedule) {
        self.epochs = epochs
        self.optimizer = optimizer
        self.baseRate = baseRate
        self.schedule = schedule
        self.stepSize = max(stepSize, 1)
        self.checkpointEvery = max(checkpointEvery, 1)
        self.seed = seed
        self.shuffleStream = shuffleStream
    }

    /// Where a resumed run continues inside an epoch (nil: at an epoch boundary).
    public var resumePoint: TrainingResumePoint? { paused?.resumePoint }

    /// Checkpoint metadata of the loop's position: completed epochs (`epoch`) and, for a paused run, the
    /// epoch in progress (`epoch_in_progress`), absent from every epoch-boundary checkpoint.
    public func positionMetadata(epochInProgress: EpochInProgress<Sums>?) -> [String: String] {
        var metadata = ["epoch": "\(completedEpochs)"]
        if let epochInProgress { metadata["epoch_in_progress"] = canonicalJSONString(epochInProgress) }
        return metadata
    }

    /// Restores the position `positionMetadata` wrote into the metadata of checkpoint `file`; metadata without
    /// one is a run at its start.
    /// - Throws: `CheckpointPositionError` when the position is unreadable or its epoch in progress does not
    ///   follow its completed epochs, changing nothing.
    public func restore(fromMetadata metadata: [String: String], file: String) throws {
        let completed: Int
        if let text = metadata["epoch"] {
            guard let value = Int(text), value >= 0 else {
                throw CheckpointPositionError(file: file, detail: "its completed epoch count '\(text)' is not a non-negative integer")
            }
            completed = value
        } else {
            completed = 0
        }
        var paused: EpochInProgress<Sums>?
        if let json = metadata["epoch_in_progress"] {
            do {
                paused = try JSONDecoder().decode(EpochInProgress<Sums>.self, from: Data(json.utf8))
            } catch {
                throw CheckpointPositionError(file: file, detail: "its epoch in progress is unreadable (\(error))")
            }
        }
        if let paused, paused.epoch != completed {
            throw CheckpointPositionError(file: file, detail: "its epoch in progress (\(paused.epoch + 1)) does not follow its \(completed) completed epochs")
        }
        completedEpochs = completed
        self.paused = paused
    }

    /// Back-propagates `loss` and takes one optimizer step at the rate the schedule gives `step`'s position
    /// (a pure function of the position, so a resumed run follows the same curve).
    public func optimize(_ loss: Variable, tape: GradientTape, at step: EpochStep) {
        tape.backward(from: loss)
        optimizer.learningRate = schedule.learningRate(base: baseRate, epoch: step.epoch, step: step.position,
                                                       steps: step.length, totalEpochs: epochs)
        optimizer.step()
        optimizer.zeroGradients()
    }

    /// Runs the remaining epochs over `count` indices.
    /// - Parameters:
    ///   - checkpoint: where `save` writes; without it the run never pauses or checkpoints.
    ///   - pauseRequested: asked before every step; yes writes the epoch in progress and throws `TrainingPaused`.
    ///   - freshSums: an epoch's starting sums.
    ///   - step: trains one step (its loss through `optimize`), adding to the sums.
    ///   - finishEpoch: turns a finished epoch's sums into its record (the trainer keeps it); if it throws
    ///     (a validation set that fails to load), the epoch does not count as completed.
    ///   - save: writes a checkpoint (with the epoch in progress when pausing).
    public func run(count: Int, checkpoint: URL?, checkCancellation: () throws -> Void, pauseRequested: () -> Bool,
                    freshSums: (_ epoch: Int) -> Sums,
                    step: (EpochStep, inout Sums) throws -> Void,
                    finishEpoch: (_ epoch: Int, Sums, _ seconds: Double) throws -> Void,
                    save: (URL, EpochInProgress<Sums>?) throws -> Void) throws {
        while completedEpochs < epochs {
            let epoch = completedEpochs
            let started = Date()
            var order = Array(0..<count)
            var shuffler = SeededGenerator(seed: seed, stream: "\(shuffleStream).\(epoch)")
            shuffler.shuffle(&order)
            var state = EpochInProgress(epoch: epoch, next: 0, length: count, sums: freshSums(epoch))
            if let paused, paused.epoch == epoch, paused.length == count { state = paused }
            paused = nil
            let resumedAt = state.next
            for position in stride(from: resumedAt, to: count, by: stepSize) {
                if let checkpoint, pauseRequested() {
                    state.next = position
                    try save(checkpoint, state)
                    throw TrainingPaused(point: state.resumePoint, checkpoint: checkpoint)
                }
                try checkCancellation()
                let indices = order[position..<min(count, position + stepSize)]
                try step(EpochStep(epoch: epoch, length: count, position: position, indices: indices,
                                   resumedAt: resumedAt, started: started), &state.sums)
            }
            try finishEpoch(epoch, state.sums, Date().timeIntervalSince(started))
            completedEpochs += 1
            if let checkpoint, completedEpochs % checkpointEvery == 0 || completedEpochs == epochs {
                try save(checkpoint, nil)
            }
        }
    }
}
