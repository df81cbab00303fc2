import Foundation
import LesionClassifier
import MaskNetWorkflows
import PipelineEngine

/// `transfer_weights`: a classifier checkpoint from a segmentation checkpoint (spec §5.2).
struct TransferWeightsStage: StageKind {
    let name = "transfer_weights"
    let workload = StageWorkload.cheap
    let version = "1"
    let summary = "Build COVID-CT-Mask-Net from a segmentation checkpoint: shared tensors copied, mask head dropped, S initialised."
    let parameters: [ParameterSpec] = [
        ParameterSpec("roi_batch_size", .integer, default: 256, minimum: 1, maximum: 4096, description: "D: ranked boxes given to S."),
        ParameterSpec("s_features", .integer, default: 1024, minimum: 1, maximum: 65536, description: "s: hidden width of S."),
        ParameterSpec("roi_nms_threshold", .number, default: 0.75, minimum: 0, maximum: 1,
                      description: "Per-class NMS of the classifier RoI head (roi_nms_th)."),
        ParameterSpec("row_class_columns", .boolean, default: false,
                      description: "Give S each ranked row's lesion class as one-hot columns after [score, dx, dy, dw, dh] (the seed gives none): rows interleave GGO and consolidation in score order, and the class is what tells COVID-19 from common pneumonia."),
        ParameterSpec("row_box_columns", .boolean, default: false,
                      description: "Give S each ranked row's box geometry (centre x, centre y, width, height as fractions of the resized image) after the other columns (the seed gives none): the seed's raw deltas are offsets from a proposal, so S cannot see a lesion's size or place, which is what separates large central lobar consolidation from small peripheral COVID-19 patches."),
        ParameterSpec("score_encoding", .choice(RankedScoreEncoding.allCases.map(\.rawValue)), default: "probability",
                      description: "The ranked rows' score column: the softmax probability p (the seed) or log: log(1 + p/ε)/log(1 + 1/ε) with ε = 1e-4, still 0 at p = 0 and 1 at p = 1, which keeps a weak lesion's 0.02 apart from a clean slice's 0.001 (0.58 against 0.26, instead of 0.02 against 0.001 beside raw deltas of order 1)."),
    ]
    let inputSlots = [InputSlot("checkpoint", description: "A segmentation checkpoint.")]
    let determinism = Determinism.seeded
    var reportedMetrics: [String] { ["copied_tensors", "dropped_tensors", "initialised_tensors"] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["checkpoint.safetensors", "transfer.json"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        let report = try WeightTransferWorkflow.run(
            segmentationCheckpoint: StageSupport.input(context, "checkpoint"), roiBatchSize: p.int("roi_batch_size"),
            features: p.int("s_features"), seed: context.seed, roiNMSThreshold: Float(p.double("roi_nms_threshold")),
            rankedRows: RankedRowLayout(classColumns: p.bool("row_class_columns"), boxColumns: p.bool("row_box_columns"),
                                        scoreEncoding: RankedScoreEncoding(rawValue: p.string("score_encoding"))!),
            outputCheckpoint: context.outputURL("checkpoint.safetensors"), outputReport: context.outputURL("transfer.json"))
        context.log("copied \(report.copied.count) tensors, dropped \(report.dropped.count) (mask branch), initialised \(report.freshlyInitialised.count) (S)")
        return StageResult(metrics: ["copied_tensors": Double(report.copied.count), "dropped_tensors": Double(report.dropped.count),
                                     "initialised_tensors": Double(report.freshlyInitialised.count)])
    }
}

/// `freeze_bn_stats`: BN statistics frozen and the trainable set fixed (spec §5.3–5.4, B10).
struct FreezeBatchNormStage: StageKind {
    let name = "freeze_bn_stats"
    let workload = StageWorkload.cheap
    let version = "1"
    let summary = "Freeze BatchNorm running statistics and fix the trainable set (S plus bn1/bn2/bn3 affine, or S alone; optionally the box predictor)."
    let parameters = [
        ParameterSpec("include_downsample_bn", .boolean, default: false,
                      description: "Also train the downsample BatchNorm affine parameters (the seed does not)."),
        ParameterSpec("train_bn_affine", .boolean, default: true,
                      description: "Train the BatchNorm affine parameters beside S (the seed does); false leaves the backbone fixed, so no gradient runs through it."),
        ParameterSpec("train_box_predictor", .boolean, default: false,
                      description: "Also train the RoI box predictor (class scores and class-specific deltas; the seed does not), so that its outputs can tell S which lesion class a row is."),
    ]
    let inputSlots = [InputSlot("checkpoint", description: "A classifier checkpoint from transfer_weights.")]
    let determinism = Determinism.deterministic
    var reportedMetrics: [String] { ["trainable_parameters", "frozen_parameters"] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["checkpoint.safetensors"] }

    /// The trainable set the parameters ask for; a downsample BN trained without any BN is refused.
    static func trainableSet(_ p: ParameterValues, stage: String) throws -> (downsample: Bool, batchNorm: Bool, boxPredictor: Bool) {
        let set = (downsample: p.bool("include_downsample_bn"), batchNorm: p.bool("train_bn_affine"),
                   boxPredictor: p.bool("train_box_predictor"))
        if set.downsample && !set.batchNorm {
            throw WorkflowError("\(stage): include_downsample_bn: true asks to train the downsample BatchNorm affine parameters, but train_bn_affine: false trains no BatchNorm; drop one of the two")
        }
        return set
    }

    func execute(_ context: StageContext) throws -> StageResult {
        let set = try Self.trainableSet(context.parameters, stage: context.stageName)
        let counts = try FreezeBatchNormWorkflow.run(
            classifierCheckpoint: StageSupport.input(context, "checkpoint"),
            includeDownsampleBatchNorm: set.downsample, trainBatchNormAffine: set.batchNorm, trainBoxPredictor: set.boxPredictor,
            outputCheckpoint: context.outputURL("checkpoint.safetensors"))
        context.log("\(counts.trainable) trainable parameters, \(counts.frozen) frozen values")
        return StageResult(metrics: ["trainable_parameters": Double(counts.trainable), "frozen_parameters": Double(counts.frozen)])
    }
}

/// `train_classifier`: module S and BN affine training (spec §6.2).
struct TrainClassifierStage: StageKind {
    let name = "train_classifier"
    let workload = StageWorkload.training
    // 2: outputs metrics.csv, tensorboard/ and figures/ (SVG charts) instead of loss.png.
    let version = "2"
    let summary = "Train COVID-CT-Mask-Net's S and BN affine parameters on COVIDx-CT-named slices."
    let parameters: [ParameterSpec] = StageSupport.trainingLoopParameters(
        weightDecay: "L2 weight decay.",
        between: [
            ParameterSpec("batch_size", .integer, default: 8, minimum: 1, maximum: 4096, description: "Images per optimizer step."),
            ParameterSpec("loss", .choice(["bce", "softmax"]), default: "bce",
                          description: "Sigmoid BCE on one-hot labels (seed) or softmax cross-entropy."),
            ParameterSpec("image_size", .integer, default: 512, minimum: 32, maximum: 4096,
                          description: "Slices are resized to image_size × image_size (the seed's training loader)."),
        ],
        validation: "Part for validation loss and accuracy; empty for none.")
    let inputSlots: [InputSlot] = [
        InputSlot("checkpoint", description: "A classifier checkpoint with frozen BN statistics (freeze_bn_stats)."),
        InputSlot("dataset", description: "Folder of COVIDx-CT-named slices (or a generated data set)."),
        InputSlot("splits", description: "Split files from a split_dataset stage.", optional: true),
    ]
    // Our GEMM and reductions give the same bits for any machine and thread count (README "Speed and precision").
    var determinism: Determinism { trainingDeterminism }
    var reportedMetrics: [String] { ["train_loss", "train_accuracy", "validation_loss", "validation_accuracy", "training_seconds"] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["checkpoint.safetensors", "history.json", "metrics.csv", "tensorboard", "figures"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        var training = ClassifierTrainingConfiguration()
        try StageSupport.applyTrainingLoop(p, seed: context.seed, stage: context.stageName, to: &training)
        training.batchSize = p.int("batch_size")
        training.loss = ClassifierLoss(rawValue: p.string("loss"))!
        let start = Date()
        let last = try ClassifierTrainingWorkflow(training: training, imageSize: p.int("image_size")).run(
            checkpoint: StageSupport.input(context, "checkpoint"),
            dataset: StageSupport.layoutFolder(StageSupport.input(context, "dataset"), layout: "classification"),
            trainSplit: try StageSupport.splitFile(context.input("splits"), name: p.string("train_split")),
            validationSplit: try StageSupport.splitFile(context.input("splits"), name: p.string("validation_split")),
            resumeCheckpoint: context.checkpointDirectory.appendingPathComponent("training.safetensors"),
            outputCheckpoint: context.outputURL("checkpoint.safetensors"), outputHistory: context.outputURL("history.json"),
            records: StageSupport.trainingRecords(context), progress: { StageSupport.report(context, $0) },
            checkCancellation: StageSupport.cancellationCheck(context),
            pauseRequested: StageSupport.pauseCheck(context), log: context.log)
        var metrics: [String: Double] = ["training_seconds": Date().timeIntervalSince(start)]
        metrics["train_loss"] = last?.trainLoss
        metrics["train_accuracy"] = last?.trainAccuracy
        metrics["validation_loss"] = last?.validationLoss
        metrics["validation_accuracy"] = last?.validationAccuracy
        return StageResult(metrics: metrics)
    }
}

/// `evaluate_classifier`: confusion matrix and classification metrics (spec §7.2).
struct EvaluateClassifierStage: StageKind {
    let name = "evaluate_classifier"
    // 2: figures/ in the evaluation folder; Wilson bounds of accuracy, sensitivity and specificity as metrics.
    // 3: also reports `slices`, the trial count Wilson gates pool.
    let version = "3"
    let summary = "Confusion matrix, accuracy, per-class sensitivity/specificity/precision/F1 and kappa of a classifier."
    let parameters: [ParameterSpec] = [
        ParameterSpec("split", .string, default: "test", description: "Part of the splits input to evaluate on; empty for all slices."),
        ParameterSpec("image_size", .integer, default: 512, minimum: 32, maximum: 4096, description: "Slices are resized to image_size × image_size."),
    ]
    let inputSlots: [InputSlot] = [
        InputSlot("checkpoint", description: "A trained classifier checkpoint."),
        InputSlot("dataset", description: "Folder of COVIDx-CT-named slices (or a generated data set)."),
        InputSlot("splits", description: "Split files from a split_dataset stage.", optional: true),
    ]
    let determinism = Determinism.deterministic
    var reportedMetrics: [String] {
        ["accuracy", "slices", "accuracy_lower", "accuracy_upper", "balanced_accuracy", "macro_f1", "cohens_kappa"]
            + ["control", "cp", "covid"].flatMap { c in
                ["sensitivity", "specificity", "precision", "f1"].map { "\($0)_\(c)" }
                    + ["sensitivity", "specificity"].flatMap { ["\($0)_\(c)_lower", "\($0)_\(c)_upper"] }
            }
    }
    func outputNames(for parameters: ParameterValues) -> [String] { ["evaluation"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        let seed = UInt64(context.seed)
        let report = try ClassifierEvaluationWorkflow.run(
            checkpoint: StageSupport.input(context, "checkpoint"),
            dataset: StageSupport.layoutFolder(StageSupport.input(context, "dataset"), layout: "classification"),
            split: try StageSupport.splitFile(context.input("splits"), name: p.string("split")), imageSize: p.int("image_size"),
            seed: seed, outputDirectory: context.outputURL("evaluation")) { done, total in
                context.report(StageProgress(step: done, steps: total, unit: "slices", fraction: Double(done) / Double(total)))
            }
        let metrics = ClassifierEvaluationWorkflow.metrics(report)
        context.log(String(format: "accuracy %.4f over %d slices", metrics["accuracy"] ?? .nan, report.confusion.total))
        return StageResult(metrics: metrics)
    }
}
