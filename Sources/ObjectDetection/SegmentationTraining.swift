import Foundation
import NeuralNetwork
import TensorCore

/// Settings of segmentation training (spec §6.1 defaults; Appendix D/B3, B11, B13, B23, B24).
public struct SegmentationTrainingConfiguration: TrainingLoopSettings, Codable, Equatable, Sendable {
    /// Total epochs (B13: the total, not "additional").
    public var epochs = 50
    public var learningRate = 1e-5
    /// How the rate changes over the run (the seed keeps it constant).
    public var learningRateSchedule = LearningRateSchedule.constant
    public var weightDecay = 1e-3
    /// AdamW-style decoupled weight decay instead of the seed's L2 (B24 option).
    public var decoupledWeightDecay = false
    /// Write a resumable checkpoint every this many epochs (and always after the last).
    public var checkpointEvery = 10
    public var seed: UInt64 = 0

    public init() {}
}

/// Per-epoch record of a training run.
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Mean total loss over the training slices actually used (B3).
    public var trainLoss: Double
    /// Mean total loss over the validation slices with instances, or nil without validation data.
    public var validationLoss: Double?
    /// Mean of each of the five losses over the epoch's training slices.
    public var trainComponents: [String: Double]
    public var usedSlices: Int
    public var skippedEmptySlices: Int
    /// Wall time of the epoch, for logs only: not encoded, so checkpoints and history files hold no
    /// wall-clock time and the same computation gives byte-identical files (0 after decoding).
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss, validationLoss, trainComponents, usedSlices, skippedEmptySlices
    }
}

/// A source of training samples: count and lazy loading (so large data sets never sit in memory).
public struct SampleSource {
    public var count: Int
    /// Loads sample `index`: an image `[3, H, W]` in [0, 1] and its target.
    public var load: (Int) throws -> (image: Tensor, target: DetectionTarget)

    public init(count: Int, load: @escaping (Int) throws -> (image: Tensor, target: DetectionTarget)) {
        self.count = count
        self.load = load
    }
}

/// The seed's segmentation training loop (spec §6.1) with our decisions: seeded shuffling and sampling,
/// loss averaged over used slices, validation without gradients and without touching BN statistics,
/// integer epoch counters, resumable checkpoints holding model and Adam state.
public final class SegmentationTrainer {
    public let model: MaskRCNN
    public let configuration: SegmentationTrainingConfiguration
    public let optimizer: Adam
    public private(set) var history: [EpochRecord] = []
    /// Epochs, shuffles, pauses and checkpoints (shared with the classifier's trainer).
    let loop: EpochLoop<EpochSums>
    /// Completed epochs.
    public var completedEpochs: Int { loop.completedEpochs }

    /// What an epoch accumulates, and its sampling stream as far as the steps done have drawn from it:
    /// everything its remaining steps and its record depend on, so a paused epoch resumes exactly.
    struct EpochSums: Codable {
        var totalLoss = 0.0, componentTotals: [String: Double] = [:], used = 0, skipped = 0
        var sampling: SeededGenerator

        enum CodingKeys: String, CodingKey {
            case totalLoss = "total_loss", componentTotals = "component_totals", used, skipped, sampling
        }
    }

    /// Where a resumed run continues inside an epoch (nil: at an epoch boundary).
    public var resumePoint: TrainingResumePoint? { loop.resumePoint }

    public init(model: MaskRCNN, configuration: SegmentationTrainingConfiguration) {
        self.model = model
        self.configuration = configuration
        // Everything trains in segmentation (spec §2.3).
        optimizer = Adam(parameters: model.parameters.trainableParameters, learningRate: configuration.learningRate,
                         weightDecay: configuration.weightDecay, decoupledWeightDecay: configuration.decoupledWeightDecay)
        loop = EpochLoop(epochs: configuration.epochs, stepSize: 1, checkpointEvery: configuration.checkpointEvery,
                         seed: configuration.seed, shuffleStream: "segmentation.shuffle", optimizer: optimizer,
                         baseRate: configuration.learningRate, schedule: configuration.learningRateSchedule)
    }

    /// Runs the remaining epochs. `checkpoint` (if given) is written every `checkpointEvery` epochs and at
    /// the end; `resume(from:)` continues from it.
    /// `checkCancellation` is called before every step and may throw to stop (the checkpoint of the last
    /// completed interval stays, so a later call resumes); `pauseRequested` too: when it says yes, the
    /// checkpoint is written with the epoch in progress and `TrainingPaused` is thrown. `epochFinished`
    /// receives each epoch's record.
    public func train(training: SampleSource, validation: SampleSource?, checkpoint: URL?,
                      progress: (TrainingProgress) -> Void = { _ in },
                      checkCancellation: () throws -> Void = {},
                      pauseRequested: () -> Bool = { false },
                      epochFinished: (EpochRecord) -> Void = { _ in }) throws {
        try loop.run(count: training.count, checkpoint: checkpoint, checkCancellation: checkCancellation,
                     pauseRequested: pauseRequested,
                     freshSums: { EpochSums(sampling: SeededGenerator(seed: configuration.seed, stream: "segmentation.sampling.\($0)")) },
                     step: { step, sums in
            let (image, target) = try training.load(step.indices.first!)
            if target.isEmpty { sums.skipped += 1; return }
            let tape = GradientTape()
            let losses = model.losses(image: image, target: target, context: .training(tape: tape), generator: &sums.sampling)
            let total = losses.total
            loop.optimize(total, tape: tape, at: step)
            sums.totalLoss += Double(total.value.scalar)
            for (name, value) in losses.values { sums.componentTotals[name, default: 0] += Double(value) }
            sums.used += 1
            progress(TrainingProgress(epoch: step.epoch + 1, epochs: configuration.epochs, step: step.end,
                                      steps: step.length, loss: sums.totalLoss / Double(sums.used),
                                      slicesPerSecond: step.indicesPerSecond, learningRate: optimizer.learningRate,
                                      stepLosses: losses.values.mapValues(Double.init)
                                        .merging(["total": Double(total.value.scalar)]) { a, _ in a }))
        }, finishEpoch: { epoch, sums, seconds in
            let validationLoss = try validation.flatMap { try self.validationLoss($0, epoch: epoch) }
            let used = sums.used
            history.append(EpochRecord(
                epoch: epoch + 1, trainLoss: used > 0 ? sums.totalLoss / Double(used) : 0, validationLoss: validationLoss,
                trainComponents: sums.componentTotals.mapValues { used > 0 ? $0 / Double(used) : 0 }, usedSlices: used,
                skippedEmptySlices: sums.skipped, seconds: seconds))
            epochFinished(history[history.count - 1])
        }, save: { try saveCheckpoint(to: $0, epochInProgress: $1) })
    }

    /// Mean total loss on validation slices: training-mode losses (sampling, batch statistics) without a
    /// tape and without updating BN running statistics (Appendix D/B11).
    public func validationLoss(_ source: SampleSource, epoch: Int) throws -> Double? {
        var sampling = SeededGenerator(seed: configuration.seed, stream: "segmentation.validation.\(epoch)")
        var total = 0.0, used = 0
        let context = ForwardContext(tape: nil, batchNormMode: .training, updatesRunningStatistics: false)
        for index in 0..<source.count {
            let (image, target) = try source.load(index)
            if target.isEmpty { continue }
            total += Double(model.losses(image: image, target: target, context: context, generator: &sampling)
                .total.value.scalar)
            used += 1
        }
        return used > 0 ? total / Double(used) : nil
    }

    /// Model weights, Adam state (prefixed `optimizer.`), the configuration and the history; for a paused
    /// run also the epoch in progress (`epoch_in_progress`), absent from every epoch-boundary checkpoint.
    public func saveCheckpoint(to url: URL) throws { try saveCheckpoint(to: url, epochInProgress: nil) }

    func saveCheckpoint(to url: URL, epochInProgress: EpochInProgress<EpochSums>?) throws {
        var metadata = model.configuration.metadata()
        metadata.merge(loop.positionMetadata(epochInProgress: epochInProgress)) { _, position in position }
        metadata["seed"] = "\(configuration.seed)"
        metadata["training"] = canonicalJSONString(configuration)
        metadata["history"] = canonicalJSONString(history)
        let file = model.parameters.stateDictionary(metadata: metadata)
            .merging(optimizer.exportState(), prefix: "optimizer.")
        try file.write(to: url)
    }

    /// Restores weights, optimizer state, epoch counter and history from a checkpoint written by
    /// `saveCheckpoint`, and the epoch in progress of a paused run.
    public func resume(from url: URL) throws {
        let file = try SafeTensorsFile.read(url)
        try model.parameters.load(from: file.removing(prefix: "optimizer."), strict: true)
        try optimizer.importState(file.subset(prefix: "optimizer."))
        if let json = file.metadata["history"] {
            history = try JSONDecoder().decode([EpochRecord].self, from: Data(json.utf8))
        }
        try loop.restore(fromMetadata: file.metadata, file: url.path)
    }
}
