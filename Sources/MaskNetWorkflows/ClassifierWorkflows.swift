import CTDatasets
import EvaluationMetrics
import Foundation
import ImageIO
import LesionClassifier
import NeuralNetwork
import ObjectDetection
import TensorCore
import Visualization

/// Opens a COVIDx-CT-named folder restricted to a split file (every slice without one). Images are
/// resized to `size`×`size` like the original training loader (spec §1.3, B18: one policy everywhere).
public func openClassificationDataset(folder: URL, split: URL?, size: Int?) throws -> ClassificationDataset {
    let names = try split.map { try DatasetSplit.read(from: $0) }
    return try ClassificationDataset(folder: folder, split: names, splitFile: split?.path ?? "<split>",
                                     resize: size.map { .exact(width: $0, height: $0) } ?? .none)
}

/// Stage `transfer_weights`: a classifier checkpoint from a segmentation checkpoint (spec §5.2).
public enum WeightTransferWorkflow {
    public static func run(segmentationCheckpoint: URL, roiBatchSize: Int, features: Int, seed: UInt64,
                           roiNMSThreshold: Float, rankedRows: RankedRowLayout = .seed, outputCheckpoint: URL,
                           outputReport: URL) throws -> WeightTransferReport {
        let file = try CheckpointImport.read(segmentationCheckpoint)
        let (model, report) = try WeightTransfer.classifier(fromSegmentation: file, roiBatchSize: roiBatchSize,
                                                            features: features, expected: nil, seed: seed,
                                                            roiNMSThreshold: roiNMSThreshold, rankedRows: rankedRows)
        var metadata = model.configuration.metadata()
        metadata["bn_statistics"] = "not frozen"
        metadata["epoch"] = "0"
        metadata["transferred_from"] = segmentationCheckpoint.lastPathComponent
        try model.parameters.stateDictionary(metadata: metadata).write(to: outputCheckpoint)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(report).write(to: outputReport, options: .atomic)
        return report
    }
}

/// Stage `freeze_bn_stats`: records that BN statistics are frozen and which parameters train (spec §5.3–5.4).
public enum FreezeBatchNormWorkflow {
    public static func run(classifierCheckpoint: URL, includeDownsampleBatchNorm: Bool, trainBatchNormAffine: Bool = true,
                           trainBoxPredictor: Bool = false, outputCheckpoint: URL) throws -> (trainable: Int, frozen: Int) {
        let file = try CheckpointImport.read(classifierCheckpoint)
        let model = try WeightTransfer.classifier(fromClassifier: file, roiBatchSize: nil, features: nil)
        var configuration = model.configuration
        configuration.trainDownsampleBatchNorm = includeDownsampleBatchNorm
        configuration.trainBatchNormAffine = trainBatchNormAffine
        configuration.trainBoxPredictor = trainBoxPredictor
        var metadata = file.metadata.merging(configuration.metadata()) { _, new in new }
        metadata["bn_statistics"] = "frozen"
        metadata["trainable_set"] = configuration.trainableSetName
        let trainable = model.parameters.parameters.filter {
            $0.isTrainable && CovidCTMaskNet.isInTrainableSet($0.name, configuration)
        }.reduce(0) { $0 + $1.value.count }
        metadata["trainable_parameters"] = "\(trainable)"
        try model.parameters.stateDictionary(metadata: metadata).write(to: outputCheckpoint)
        return (trainable, model.parameters.stateCount - trainable)
    }
}

/// Stage `train_classifier` (spec §6.2).
public struct ClassifierTrainingWorkflow {
    public var training: ClassifierTrainingConfiguration
    public var imageSize: Int?

    public init(training: ClassifierTrainingConfiguration, imageSize: Int?) {
        self.training = training
        self.imageSize = imageSize
    }

    @discardableResult
    public func run(checkpoint: URL, dataset folder: URL, trainSplit: URL?, validationSplit: URL?, resumeCheckpoint: URL,
                    outputCheckpoint: URL, outputHistory: URL, records: TrainingRecordOutputs?,
                    progress: (TrainingProgress) -> Void, checkCancellation: () throws -> Void = {},
                    pauseRequested: () -> Bool = { false }, log: (String) -> Void) throws -> ClassifierEpochRecord? {
        let file = try CheckpointImport.read(checkpoint)
        guard file.metadata["bn_statistics"] == "frozen" else {
            throw WorkflowError("\(checkpoint.path): BN statistics are not frozen in this classifier checkpoint; run a freeze_bn_stats stage on it first (spec §5.4)")
        }
        let model = try WeightTransfer.classifier(fromClassifier: file, roiBatchSize: nil, features: nil)
        let trainSet = try openClassificationDataset(folder: folder, split: trainSplit, size: imageSize)
        let validationSet = try validationSplit.map { try openClassificationDataset(folder: folder, split: $0, size: imageSize) }
        guard trainSet.count > 0 else { throw WorkflowError("\(folder.path): the training split is empty") }
        let trainer = ClassifierTrainer(model: model, configuration: training)
        if FileManager.default.fileExists(atPath: resumeCheckpoint.path) {
            try trainer.resume(from: resumeCheckpoint)
            log(TrainingRecorder.resumedMessage(resumeCheckpoint, completedEpochs: trainer.completedEpochs,
                                                point: trainer.resumePoint, unit: "slices"))
        }
        log("training \(model.trainableParameters.reduce(0) { $0 + $1.value.count }) parameters (\(model.configuration.trainableSetName))")
        let recorder = try TrainingRecorder(journal: resumeCheckpoint.deletingLastPathComponent().appendingPathComponent("scalars.csv"),
                                            completedEpochs: trainer.completedEpochs, resumePoint: trainer.resumePoint,
                                            learningRate: training.learningRate)
        try trainer.train(training: DataSources.classification(trainSet), validation: validationSet.map(DataSources.classification),
                          checkpoint: resumeCheckpoint, progress: { recorder.step($0); progress($0) },
                          checkCancellation: checkCancellation, pauseRequested: pauseRequested) { r in
            recorder.epoch(r.epoch, ["train_loss": r.trainLoss, "train_accuracy": r.trainAccuracy,
                                     "validation_loss": r.validationLoss, "validation_accuracy": r.validationAccuracy])
            log(String(format: "epoch %d: train loss %.4f, accuracy %.3f%@ (%.1f s)", r.epoch, r.trainLoss, r.trainAccuracy,
                       r.validationAccuracy.map { String(format: ", validation accuracy %.3f", $0) } ?? "", r.seconds))
        }
        try TrainingOutputs.publish(
            checkpoint: resumeCheckpoint, as: outputCheckpoint, history: trainer.history, to: outputHistory,
            recorder: recorder, records: records, title: "Classifier")
        return trainer.history.last
    }
}

/// Stage `evaluate_classifier` (spec §7.2): confusion matrix and every classification metric.
public enum ClassifierEvaluationWorkflow {
    public static func run(checkpoint: URL, dataset folder: URL, split: URL?, imageSize: Int?, seed: UInt64,
                           outputDirectory: URL, progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> ClassificationReport {
        let file = try CheckpointImport.read(checkpoint)
        let model = try WeightTransfer.classifier(fromClassifier: file, roiBatchSize: nil, features: nil)
        let dataset = try openClassificationDataset(folder: folder, split: split, size: imageSize)
        let source = DataSources.classification(dataset)
        var counted = 0
        let counting = LabelledSliceSource(count: source.count) { index in
            defer { counted += 1; progress(counted, source.count) }
            return try source.load(index)
        }
        let evaluation = try ClassifierEvaluation.run(model: model, source: counting, seed: seed)
        let confusion = ConfusionMatrix(truths: evaluation.labels.map(\.rawValue),
                                        predictions: evaluation.predictions.map(\.rawValue), classCount: 3)
        let report = ClassificationReport(confusion: confusion, classNames: CTClass.allCases.map(\.name))
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(report).write(to: outputDirectory.appendingPathComponent("report.json"), options: .atomic)
        let predictions = zip(dataset.names, zip(evaluation.labels, evaluation.predictions)).map { name, pair in
            "\(name),\(pair.0.name),\(pair.1.name)"
        }
        try (["file,truth,prediction"] + predictions).joined(separator: "\n").appending("\n")
            .write(to: outputDirectory.appendingPathComponent("predictions.csv"), atomically: true, encoding: .utf8)
        try writeFigures(report: report, dataset: dataset, evaluation: evaluation, to: outputDirectory.appendingPathComponent("figures"))
        return report
    }

    /// Slices shown in the most-wrong figure.
    public static let mostWrongCount = 8

    /// `figures/`: the confusion matrix, sensitivity and specificity with intervals, and the misclassified
    /// slices the model was surest about (largest softmax score of the wrong class), with every class score.
    static func writeFigures(report: ClassificationReport, dataset: ClassificationDataset,
                             evaluation: (predictions: [CTClass], labels: [CTClass], logits: [[Float]]), to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try EvaluationFigures.confusionMatrix(report).write(to: folder.appendingPathComponent("1-confusion-matrix.svg"))
        try EvaluationFigures.sensitivitySpecificity(report).write(to: folder.appendingPathComponent("2-sensitivity-specificity.svg"))
        func softmax(_ logits: [Float]) -> [Double] {
            let top = logits.max() ?? 0
            let e = logits.map { exp(Double($0 - top)) }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
        let allWrong = evaluation.labels.indices.filter { evaluation.labels[$0] != evaluation.predictions[$0] }
        let wrong = allWrong.map { ($0, softmax(evaluation.logits[$0])) }
            .sorted { ($0.1[evaluation.predictions[$0.0].rawValue], -$0.0) > ($1.1[evaluation.predictions[$1.0].rawValue], -$1.0) }
            .prefix(mostWrongCount)
        let items = try wrong.map { index, scores -> ScoredSliceFigure.Item in
            let sample = try dataset.sample(at: index)
            let (height, width) = (sample.image.shape[1], sample.image.shape[2])
            return ScoredSliceFigure.Item(name: sample.url.lastPathComponent, grey: Array(sample.image.scalars.prefix(height * width)),
                                          width: width, height: height, truth: evaluation.labels[index].rawValue,
                                          prediction: evaluation.predictions[index].rawValue, scores: scores)
        }
        let figure = ScoredSliceFigure(title: "Misclassified slices, most confident first (\(wrong.count) of \(allWrong.count) wrong of \(evaluation.labels.count))",
                                       classNames: report.classes.map(\.name), scoreDescription: "softmax of the logits", items: Array(items))
        try figure.render(png: EvaluationFigures.png).write(to: folder.appendingPathComponent("3-most-wrong.svg"))
    }

    /// Flat metrics for gates: accuracy, balanced accuracy, per-class sensitivity/specificity/precision/F1,
    /// kappa, and the Wilson 95% bounds of accuracy, sensitivity and specificity (`…_lower`, `…_upper`).
    public static func metrics(_ report: ClassificationReport) -> [String: Double] {
        var metrics: [String: Double] = [:]
        metrics["accuracy"] = report.accuracy
        metrics["balanced_accuracy"] = report.balancedAccuracy
        metrics["macro_f1"] = report.macroF1
        metrics["cohens_kappa"] = report.cohensKappa
        metrics["accuracy_lower"] = report.accuracyInterval?.lower
        metrics["accuracy_upper"] = report.accuracyInterval?.upper
        // The number of slices evaluated: the trials behind `accuracy`, which Wilson intervals pool.
        metrics["slices"] = Double(report.confusion.total)
        for (index, name) in ["control", "cp", "covid"].enumerated() where index < report.classes.count {
            let c = report.classes[index]
            metrics["sensitivity_\(name)"] = c.sensitivity
            metrics["sensitivity_\(name)_lower"] = c.sensitivityInterval?.lower
            metrics["sensitivity_\(name)_upper"] = c.sensitivityInterval?.upper
            metrics["specificity_\(name)"] = c.specificity
            // Specificity's Wilson interval: true negatives out of the slices of the other classes.
            let negatives = report.confusion.total - report.confusion.support(index)
            let trueNegatives = negatives - (report.confusion.predicted(index) - report.confusion[index, index])
            let specificityInterval = ProportionInterval.wilson(successes: trueNegatives, trials: negatives)
            metrics["specificity_\(name)_lower"] = specificityInterval?.lower
            metrics["specificity_\(name)_upper"] = specificityInterval?.upper
            metrics["precision_\(name)"] = c.precision
            metrics["f1_\(name)"] = c.f1
        }
        return metrics.compactMapValues { $0 }
    }
}
