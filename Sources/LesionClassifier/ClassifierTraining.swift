import CTDatasets
import Foundation
import NeuralNetwork
import ObjectDetection
import TensorCore

/// Which loss trains S (Appendix D/B9).
public enum ClassifierLoss: String, Codable, Sendable {
    /// The seed's sigmoid BCE against one-hot labels, mean over B·3.
    case binaryCrossEntropy = "bce"
    /// Softmax cross-entropy (a deliberate change, offered as an option).
    case softmaxCrossEntropy = "softmax"
}

/// Settings of classifier training (spec §6.2).
public struct ClassifierTrainingConfiguration: TrainingLoopSettings, Codable, Equatable, Sendable {
    /// Total epochs (a resumed run continues up to this number, B13).
    public var epochs = 50
    /// Images per optimizer step; each is forwarded alone and the logits stacked (spec §5.1).
    public var batchSize = 8
    /// Adam learning rate.
    public var learningRate = 1e-5
    /// How the rate changes over the run (the seed keeps it constant).
    public var learningRateSchedule = LearningRateSchedule.constant
    /// Adam L2 weight decay (added to the gradient, B24).
    public var weightDecay = 1e-3
    /// BCE on one-hot labels (seed) or softmax cross-entropy (B9).
    public var loss = ClassifierLoss.binaryCrossEntropy
    /// Write a checkpoint every this many epochs (and after the last).
    public var checkpointEvery = 10
    /// Seeds the epoch shuffles and every image's padding runs.
    public var seed: UInt64 = 0

    /// The seed's defaults (spec §6.2).
    public init() {}
}

/// A labelled slice source, loaded lazily.
public struct LabelledSliceSource {
    /// Number of slices.
    public var count: Int
    /// Image `[3, H, W]` in [0, 1], its class, and a stable identity (the file name) for seeding.
    public var load: (Int) throws -> (image: Tensor, label: CTClass, identity: String)

    /// A source of `count` slices served by `load`.
    public init(count: Int, load: @escaping (Int) throws -> (image: Tensor, label: CTClass, identity: String)) {
        self.count = count
        self.load = load
    }
}

/// Per-epoch classifier record.
public struct ClassifierEpochRecord: Codable, Equatable, Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean over batches of the batch loss.
    public var trainLoss: Double
    /// Fraction of training slices whose argmax matched, during the pass.
    public var trainAccuracy: Double
    /// Validation loss (mean over batches), when a validation source was given.
    public var validationLoss: Double?
    /// Validation accuracy, when a validation source was given.
    public var validationAccuracy: Double?
    /// Wall time of the epoch, for logs only: not encoded, so checkpoints and history files hold no
    /// wall-clock time and the same computation gives byte-identical files (0 after decoding).
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey { case epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy }
}

/// Spec §6.2 with our decisions: BN statistics frozen (eval mode everywhere), only the trainable set
/// optimised, batches of B images run one at a time and stacked for the loss, seeded shuffling and
/// padding, resumable checkpoints.
public final class ClassifierTrainer {
    /// The classifier being trained (its trainable set is applied by `init`).
    public let model: CovidCTMaskNet
    /// The training settings.
    public let configuration: ClassifierTrainingConfiguration
    /// Adam over the trainable set only (spec §6.2).
    public let optimizer: Adam
    /// One record per completed epoch.
    public private(set) var history: [ClassifierEpochRecord] = []
    /// Epochs, shuffles, pauses and checkpoints (shared with the detector's trainer).
    let loop: EpochLoop<EpochSums>
    /// Epochs done so far (restored by `resume`).
    public var completedEpochs: Int { loop.completedEpochs }

    /// What an epoch accumulates. The shuffle and the padding streams are derived from the seed, epoch
    /// and slice, so a paused epoch needs nothing else to continue exactly.
    struct EpochSums: Codable, Equatable {
        var lossSum = 0.0, batches = 0, correct = 0, seen = 0

        enum CodingKeys: String, CodingKey { case lossSum = "loss_sum", batches, correct, seen }
    }

    /// Where a resumed run continues inside an epoch, in slices (nil: at an epoch boundary).
    public var resumePoint: TrainingResumePoint? { loop.resumePoint }

    /// Applies the model's trainable set and builds Adam over it.
    public init(model: CovidCTMaskNet, configuration: ClassifierTrainingConfiguration) {
        self.model = model
        self.configuration = configuration
        model.applyTrainableSet()
        optimizer = Adam(parameters: model.trainableParameters, learningRate: configuration.learningRate,
                         weightDecay: configuration.weightDecay)
        loop = EpochLoop(epochs: configuration.epochs, stepSize: configuration.batchSize,
                         checkpointEvery: configuration.checkpointEvery, seed: configuration.seed,
                         shuffleStream: "classifier.shuffle", optimizer: optimizer, baseRate: configuration.learningRate,
                         schedule: configuration.learningRateSchedule)
    }

    /// The padding generator of one image: run seed + image identity, so results never depend on order.
    public static func paddingGenerator(seed: UInt64, identity: String) -> SeededGenerator {
        SeededGenerator(seed: seed, stream: "classifier.padding.\(identity)")
    }

    /// The loss of a batch of logits `[B, 3]` with the configured kind.
    func loss(_ logits: Variable, labels: [CTClass]) -> Variable {
        Self.loss(logits, labels: labels, kind: configuration.loss)
    }

    /// The classifier loss of logits `[B, 3]` (the B single-image outputs stacked) against `labels` (B):
    /// sigmoid BCE against one-hot targets, mean over B·3 elements (spec §5.1), or softmax cross-entropy,
    /// mean over B (B9).
    public static func loss(_ logits: Variable, labels: [CTClass], kind: ClassifierLoss) -> Variable {
        precondition(logits.shape == [labels.count, 3], "loss needs logits [B, 3] for B = \(labels.count) labels, got \(logits.shape)")
        switch kind {
        case .binaryCrossEntropy:
            let oneHot = Tensor(shape: [labels.count, 3], scalars: labels.flatMap { label in
                (0..<3).map { Float($0 == label.rawValue ? 1 : 0) }
            })
            return binaryCrossEntropyWithLogits(logits: logits, targets: oneHot, reduction: .mean)
        case .softmaxCrossEntropy:
            return softmaxCrossEntropy(logits: logits, labels: labels.map(\.rawValue), reduction: .mean)
        }
    }

    /// Trains until `configuration.epochs` are complete: per epoch a seeded shuffle, batches of single-image
    /// forwards stacked for the loss, one Adam step per batch, then validation and the checkpoint rule.
    /// `checkCancellation` is called before every batch and may throw to stop; `pauseRequested` too: when it
    /// says yes, the checkpoint is written with the epoch in progress and `TrainingPaused` is thrown.
    /// `epochFinished` receives each epoch's record.
    /// - Throws: `ClassifierSetupError` before any step for a batch size below 1 or an empty training set;
    ///   otherwise the sources' and the checkpoint writer's errors.
    public func train(training: LabelledSliceSource, validation: LabelledSliceSource?, checkpoint: URL?,
                      progress: (TrainingProgress) -> Void = { _ in },
                      checkCancellation: () throws -> Void = {},
                      pauseRequested: () -> Bool = { false },
                      epochFinished: (ClassifierEpochRecord) -> Void = { _ in }) throws {
        var problems: [String] = []
        if configuration.batchSize < 1 { problems.append("batch size must be at least 1, got \(configuration.batchSize)") }
        if training.count == 0 && completedEpochs < configuration.epochs {
            problems.append("the training set holds no images; check the training data folder or split")
        }
        guard problems.isEmpty else { throw ClassifierSetupError(file: "train_classifier settings", problems: problems) }
        try loop.run(count: training.count, checkpoint: checkpoint, checkCancellation: checkCancellation,
                     pauseRequested: pauseRequested, freshSums: { _ in EpochSums() }, step: { step, sums in
            let tape = GradientTape()
            let context = ForwardContext(tape: tape, batchNormMode: .evaluation)
            var outputs: [Variable] = [], labels: [CTClass] = []
            for index in step.indices {
                let (image, label, identity) = try training.load(index)
                var padding = Self.paddingGenerator(seed: configuration.seed, identity: identity)
                outputs.append(model.logits(image: image, context: context, paddingGenerator: &padding).logits)
                labels.append(label)
            }
            let logits = concatenateRows(outputs)
            let loss = loss(logits, labels: labels)
            loop.optimize(loss, tape: tape, at: step)
            sums.lossSum += Double(loss.value.scalar)
            sums.batches += 1
            sums.correct += zip(Self.predictions(logits.value), labels).filter { $0 == $1 }.count
            sums.seen += labels.count
            progress(TrainingProgress(epoch: step.epoch + 1, epochs: configuration.epochs, step: step.end,
                                      steps: step.length, loss: sums.lossSum / Double(sums.batches),
                                      slicesPerSecond: step.indicesPerSecond, learningRate: optimizer.learningRate,
                                      stepLosses: ["total": Double(loss.value.scalar)]))
        }, finishEpoch: { epoch, sums, seconds in
            var validationLoss: Double? = nil, validationAccuracy: Double? = nil
            if let validation, validation.count > 0 {
                let result = try evaluate(validation)
                validationLoss = result.loss
                validationAccuracy = Double(zip(result.predictions, result.labels).filter { $0 == $1 }.count)
                    / Double(result.labels.count)
            }
            history.append(ClassifierEpochRecord(epoch: epoch + 1, trainLoss: sums.lossSum / Double(max(sums.batches, 1)),
                                                 trainAccuracy: Double(sums.correct) / Double(max(sums.seen, 1)),
                                                 validationLoss: validationLoss, validationAccuracy: validationAccuracy,
                                                 seconds: seconds))
            epochFinished(history[history.count - 1])
        }, save: { try saveCheckpoint(to: $0, epochInProgress: $1) })
    }

    /// Loss (mean over batches of the configured loss), predictions and labels without gradients.
    public func evaluate(_ source: LabelledSliceSource) throws
        -> (loss: Double, predictions: [CTClass], labels: [CTClass], logits: [[Float]]) {
        let evaluation = try ClassifierEvaluation.run(model: model, source: source, seed: configuration.seed)
        var lossSum = 0.0, batches = 0
        for start in stride(from: 0, to: source.count, by: configuration.batchSize) {
            let end = min(source.count, start + configuration.batchSize)
            let logits = Tensor(shape: [end - start, 3], scalars: evaluation.logits[start..<end].flatMap { $0 })
            lossSum += Double(loss(Variable(logits), labels: Array(evaluation.labels[start..<end])).value.scalar)
            batches += 1
        }
        return (lossSum / Double(max(batches, 1)), evaluation.predictions, evaluation.labels, evaluation.logits)
    }

    /// Argmax per row of `[B, 3]` logits.
    public static func predictions(_ logits: Tensor) -> [CTClass] {
        let values = logits.scalars
        return (0..<(values.count / 3)).map { row in
            let slice = values[(3 * row)..<(3 * row + 3)]
            return CTClass(rawValue: slice.indices.max { slice[$0] < slice[$1] }! - 3 * row)!
        }
    }

    /// Writes weights, Adam state (prefix `optimizer.`) and metadata: configuration, D, s, epoch, seed, frozen
    /// BN statistics, the trainable set, training settings and history (Appendix D/B15).
    public func saveCheckpoint(to url: URL) throws { try saveCheckpoint(to: url, epochInProgress: nil) }

    /// The same, with the epoch a paused run stopped inside (`epoch_in_progress`).
    func saveCheckpoint(to url: URL, epochInProgress: EpochInProgress<EpochSums>?) throws {
        var metadata = model.configuration.metadata()
        metadata.merge(loop.positionMetadata(epochInProgress: epochInProgress)) { _, position in position }
        metadata["seed"] = "\(configuration.seed)"
        metadata["bn_statistics"] = "frozen"
        metadata["trainable_set"] = model.configuration.trainableSetName
        metadata["training"] = canonicalJSONString(configuration)
        metadata["history"] = canonicalJSONString(history)
        try model.parameters.stateDictionary(metadata: metadata).merging(optimizer.exportState(), prefix: "optimizer.")
            .write(to: url)
    }

    /// Restores weights, Adam state, completed epochs and history from a checkpoint written by
    /// `saveCheckpoint`, and the epoch in progress of a paused run. A checkpoint of another D or s is refused
    /// before anything is loaded.
    public func resume(from url: URL) throws {
        let file = try SafeTensorsFile.read(url)
        guard let saved = ClassifierConfiguration.from(metadata: file.metadata) else {
            throw ClassifierSetupError(file: file.source, problems: [
                "not a masknet classifier checkpoint (no classifier configuration in its metadata); resume only from checkpoints written by train_classifier"])
        }
        let problems = WeightTransfer.mismatches(saved, roiBatchSize: model.configuration.roiBatchSize,
                                                 features: model.configuration.features)
            + WeightTransfer.mismatches(saved.detector, expected: model.configuration.detector)
        guard problems.isEmpty else { throw ClassifierSetupError(file: file.source, problems: problems) }
        try model.parameters.load(from: file.removing(prefix: "optimizer."), strict: true)
        try optimizer.importState(file.subset(prefix: "optimizer."))
        if let json = file.metadata["history"] {
            history = try JSONDecoder().decode([ClassifierEpochRecord].self, from: Data(json.utf8))
        }
        try loop.restore(fromMetadata: file.metadata, file: file.source)
    }
}

/// Inference of the classifier over a source (no tape; deterministic padding per image).
public enum ClassifierEvaluation {
    /// Logits, argmax predictions and labels of every slice of `source`, in its order; padding seeded
    /// by `seed` and each slice's identity.
    public static func run(model: CovidCTMaskNet, source: LabelledSliceSource, seed: UInt64) throws
        -> (predictions: [CTClass], labels: [CTClass], logits: [[Float]]) {
        var predictions: [CTClass] = [], labels: [CTClass] = [], logits: [[Float]] = []
        let context = ForwardContext(tape: nil, batchNormMode: .evaluation)
        for index in 0..<source.count {
            let (image, label, identity) = try source.load(index)
            var padding = ClassifierTrainer.paddingGenerator(seed: seed, identity: identity)
            let output = model.logits(image: image, context: context, paddingGenerator: &padding).logits.value
            logits.append(output.scalars)
            predictions.append(ClassifierTrainer.predictions(output)[0])
            labels.append(label)
        }
        return (predictions, labels, logits)
    }
}
