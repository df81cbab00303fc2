import CTDatasets
import Foundation
import MaskNetWorkflows
import NeuralNetwork
import ObjectDetection
import PipelineEngine
import TensorCore
import VisionBackbones

/// The ML stage kinds, registered with the engine beside its built-in `command` kind.
public enum MaskNetStageKinds {
    /// Every kind this module provides.
    public static let all: [any StageKind] = [
        SynthesizeDatasetStage(), ImportDatasetStage(), SplitDatasetStage(), TrainSegmentationStage(), EvaluateMapStage(), InferSegmentationStage(),
        TransferWeightsStage(), FreezeBatchNormStage(), TrainClassifierStage(), EvaluateClassifierStage(), ImportCheckpointStage(),
    ]

    /// The registry the CLI uses: the engine's built-ins plus the ML kinds.
    public static var registry: KindRegistry { KindRegistry(KindRegistry.builtIn + all) }
}

/// Helpers shared by the kinds.
enum StageSupport {
    /// The folder of one layout inside a data-set input: a generated data set holds `segmentation/` and
    /// `classification/`; a real one (passed as `file:PATH`) is the layout folder itself.
    static func layoutFolder(_ dataset: URL, layout: String) -> URL {
        let nested = dataset.appendingPathComponent(layout)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: nested.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return nested
        }
        return dataset
    }

    /// The split file `<name>.txt` in a `splits` input, or nil when `name` is empty (use no split).
    static func splitFile(_ splits: URL?, name: String) throws -> URL? {
        guard let splits, !name.isEmpty else { return nil }
        let file = splits.appendingPathComponent("\(name).txt")
        guard FileManager.default.fileExists(atPath: file.path) else {
            let available = ((try? FileManager.default.contentsOfDirectory(atPath: splits.path)) ?? [])
                .filter { $0.hasSuffix(".txt") }.map { String($0.dropLast(4)) }.sorted()
            throw WorkflowError("split '\(name)' does not exist; the splits input has: \(available.joined(separator: ", "))")
        }
        return file
    }

    /// A required input (the engine has validated the binding; a missing one is a programming error).
    static func input(_ context: StageContext, _ name: String) -> URL {
        guard let url = context.input(name) else { preconditionFailure("input slot '\(name)' is not bound") }
        return url
    }

    /// Throws `StageCancelled` once the run is interrupted.
    static func cancellationCheck(_ context: StageContext) -> () throws -> Void {
        { if context.isCancelled { throw StageCancelled() } }
    }

    /// Whether the stage was asked to pause (see `StageContext.isPauseRequested`).
    static func pauseCheck(_ context: StageContext) -> () -> Bool {
        { context.isPauseRequested }
    }

    /// Reports training progress to the engine's live display.
    static func report(_ context: StageContext, _ progress: TrainingProgress) {
        let done = Double(progress.epoch - 1) + Double(progress.step) / Double(max(progress.steps, 1))
        context.report(StageProgress(epoch: progress.epoch, epochs: progress.epochs, step: progress.step,
                                     steps: progress.steps, loss: progress.loss, throughput: progress.slicesPerSecond,
                                     unit: "slices", fraction: done / Double(max(progress.epochs, 1))))
    }

    /// Parameters shared by the kinds that build a detector.
    static let detectorParameters: [ParameterSpec] = [
        ParameterSpec("backbone", .choice(["resnet18", "resnet34", "resnet50"]), default: "resnet18",
                      description: "ResNet depth of the backbone (spec §2.1)."),
        ParameterSpec("truncation", .integer, default: 1, minimum: 0, maximum: 2,
                      description: "Last ResNet stage kept by the light models: 0 keeps layer4, 1 layer3, 2 layer2 (ignored by resnet50)."),
        ParameterSpec("mask_type", .choice(["both", "ggo", "merge"]), default: "merge",
                      description: "Lesion classes: GGO and consolidation apart (both), GGO only, or merged into one lesion class."),
        ParameterSpec("min_size", .integer, default: 512, minimum: 32,
                      description: "Shorter image side after the model's resize, pixels (spec §1.2)."),
        ParameterSpec("max_size", .integer, default: 1024, minimum: 32,
                      description: "Cap on the longer image side after the model's resize, pixels."),
        ParameterSpec("rpn_nms_threshold", .number, default: 0.75, minimum: 0, maximum: 1,
                      description: "IoU threshold of the RPN's NMS (rpn_nms_th)."),
        ParameterSpec("area_threshold", .integer, default: 100, minimum: 0,
                      description: "Lesion components of at most this many pixels are dropped (strict >, spec §1.1.4)."),
    ]

    /// The training loop's parameters, shared by the training kinds: `epochs`, `learning_rate` and its schedule
    /// first; `weight_decay`, then what the kind adds (`between`), then `checkpoint_every` and the split parts.
    static func trainingLoopParameters(weightDecay: String, between: [ParameterSpec] = [], validation: String) -> [ParameterSpec] {
        [
            ParameterSpec("epochs", .integer, default: 50, minimum: 1, maximum: 100_000, description: "Total epochs."),
            ParameterSpec("learning_rate", .number, default: 1e-5, minimum: 0, maximum: 1, description: "Adam learning rate."),
        ] + learningRateScheduleParameters + [
            ParameterSpec("weight_decay", .number, default: 1e-3, minimum: 0, maximum: 1, description: weightDecay),
        ] + between + [
            ParameterSpec("checkpoint_every", .integer, default: 10, minimum: 1, description: "Epochs between resumable checkpoints."),
            ParameterSpec("train_split", .string, default: "train", description: "Part of the splits input to train on."),
            ParameterSpec("validation_split", .string, default: "validation", description: validation),
        ]
    }

    /// Sets the training loop's settings from the parameters `trainingLoopParameters` declares and the stage's seed.
    static func applyTrainingLoop<Settings: TrainingLoopSettings>(_ p: ParameterValues, seed: UInt64, stage: String,
                                                                 to settings: inout Settings) throws {
        settings.epochs = p.int("epochs")
        settings.learningRate = p.double("learning_rate")
        settings.learningRateSchedule = try learningRateSchedule(p, stage: stage)
        settings.weightDecay = p.double("weight_decay")
        settings.checkpointEvery = p.int("checkpoint_every")
        settings.seed = seed
    }

    /// Parameters of the learning-rate schedule, shared by the training kinds.
    static let learningRateScheduleParameters: [ParameterSpec] = [
        ParameterSpec("lr_schedule", .choice(["constant", "cosine", "step"]), default: "constant",
                      description: "How the rate changes: constant (the seed), cosine (half a cosine per step from learning_rate down to lr_floor × learning_rate at the last step), or step (multiplied by lr_gamma at each of lr_milestones)."),
        ParameterSpec("lr_floor", .number, default: 0, minimum: 0, maximum: 1,
                      description: "Cosine schedule only: the final rate as a fraction of learning_rate."),
        ParameterSpec("lr_milestones", .list(.integer), default: [], minimum: 1,
                      description: "Step schedule only: epochs (1-based count of completed epochs) after which the rate is multiplied by lr_gamma."),
        ParameterSpec("lr_gamma", .number, default: 0.1, minimum: 0, maximum: 1,
                      description: "Step schedule only: the factor applied at each milestone."),
    ]

    /// The schedule from `learningRateScheduleParameters`, refusing settings that would be silently ignored.
    static func learningRateSchedule(_ p: ParameterValues, stage: String) throws -> LearningRateSchedule {
        let milestones = (p["lr_milestones"]?.arrayValue ?? []).compactMap(\.intValue)
        switch p.string("lr_schedule") {
        case "cosine":
            guard milestones.isEmpty else {
                throw WorkflowError("\(stage): lr_milestones \(milestones) only apply to lr_schedule 'step', not 'cosine'; remove them or set lr_schedule: step")
            }
            return .cosine(floor: p.double("lr_floor"))
        case "step":
            guard !milestones.isEmpty else {
                throw WorkflowError("\(stage): lr_schedule 'step' needs lr_milestones (for example lr_milestones: [8, 11])")
            }
            return .step(milestones: milestones, gamma: p.double("lr_gamma"))
        default:
            guard milestones.isEmpty else {
                throw WorkflowError("\(stage): lr_milestones \(milestones) are ignored by lr_schedule 'constant'; set lr_schedule: step or remove them")
            }
            return .constant
        }
    }

    /// The post-processing parameters `evaluate_map` and `infer_segmentation` share; `defaults` come from
    /// the seed script named in `source`, which every description cites.
    static func postProcessingParameters(_ defaults: SegmentationPostProcessing, source: String) -> [ParameterSpec] {
        [
            ParameterSpec("score_threshold", .number, default: decimal(defaults.scoreThreshold), minimum: -1, maximum: 1,
                          description: "Detections need a class probability strictly above this (confidence_th; default from \(source))."),
            ParameterSpec("nms_threshold", .number, default: decimal(defaults.nmsThreshold), minimum: 0, maximum: 1,
                          description: "Per-class NMS IoU of the RoI heads (roi_nms_th; default from \(source))."),
            ParameterSpec("detections_per_image", .integer, default: .integer(defaults.detectionsPerImage), minimum: 1,
                          description: "Detections kept per slice (box_detections_per_img; default from \(source))."),
            ParameterSpec("mask_logit_threshold", .number, default: decimal(defaults.maskLogitThreshold),
                          description: "Mask LOGIT threshold (mask_logits_th, spec B5: 0.5 is p ≈ 0.62; default from \(source))."),
        ]
    }

    /// A Float setting as the decimal it was written as (0.05, not 0.0500000007): parameter defaults enter
    /// the schema and stage keys, which must not change with the Float type of the library's settings.
    private static func decimal(_ value: Float) -> JSONValue { .number(Double(value.description)!) }

    /// The post-processing from the parameters of `postProcessingParameters`.
    static func postProcessing(_ p: ParameterValues) -> SegmentationPostProcessing {
        SegmentationPostProcessing(scoreThreshold: Float(p.double("score_threshold")), nmsThreshold: Float(p.double("nms_threshold")),
                                   detectionsPerImage: p.int("detections_per_image"),
                                   maskLogitThreshold: Float(p.double("mask_logit_threshold")))
    }

    /// The detector configuration from the shared detector parameters.
    static func detectorConfiguration(_ p: ParameterValues) -> MaskRCNNConfiguration {
        var configuration = MaskRCNNConfiguration(
            backbone: BackboneConfiguration(depth: ResNetDepth(rawValue: p.string("backbone"))!, truncation: p.int("truncation")),
            maskType: MaskType(rawValue: p.string("mask_type"))!)
        configuration.minSize = p.int("min_size")
        configuration.maxSize = p.int("max_size")
        configuration.rpnNMSThreshold = Float(p.double("rpn_nms_threshold"))
        return configuration
    }

    /// The outputs a training stage writes its scalars and charts to.
    static func trainingRecords(_ context: StageContext) -> TrainingRecordOutputs {
        TrainingRecordOutputs(csv: context.outputURL("metrics.csv"), tensorBoard: context.outputURL("tensorboard"),
                              figures: context.outputURL("figures"))
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(value).write(to: url, options: .atomic)
    }
}

/// Determinism of the training kinds: masknet's own GEMM, reductions in thread-independent chunks and
/// FixedMath transcendentals make training a function of its inputs and seed on every machine and for
/// every thread count; with `MASKNET_GEMM=openblas` the rounding follows OpenBLAS's per-CPU kernels.
var trainingDeterminism: Determinism {
    MatrixMultiply.isMachineIndependent
        ? .seeded
        : .nondeterministic(reason: "MASKNET_GEMM=openblas: OpenBLAS's kernels round differently per CPU; seeded otherwise")
}
