import Foundation
import MaskNetWorkflows
import ObjectDetection
import PipelineEngine

/// `train_segmentation`: the seed's Mask R-CNN training (spec §6.1), resumable within the stage.
struct TrainSegmentationStage: StageKind {
    let name = "train_segmentation"
    let workload = StageWorkload.training
    // 2: outputs metrics.csv, tensorboard/ and figures/ (SVG charts) instead of loss.png.
    let version = "2"
    let summary = "Train the seed's Mask R-CNN on a CNCB-layout data set (Adam, batch 1, empty slices skipped)."
    let parameters: [ParameterSpec] = StageSupport.detectorParameters + StageSupport.trainingLoopParameters(
        weightDecay: "L2 weight decay added to the gradient (seed), or decoupled with decoupled_weight_decay.",
        between: [ParameterSpec("decoupled_weight_decay", .boolean, default: false, description: "AdamW-style decay instead of L2.")],
        validation: "Part for the validation loss (no gradients, BN statistics untouched); empty for none.")
    let inputSlots: [InputSlot] = [
        InputSlot("dataset", description: "Data set with a CNCB segmentation layout (imgs/, masks/)."),
        InputSlot("splits", description: "Split files from a split_dataset stage.", optional: true),
    ]
    // Our GEMM and reductions give the same bits for any machine and thread count (README "Speed and precision").
    var determinism: Determinism { trainingDeterminism }
    var reportedMetrics: [String] { ["train_loss", "validation_loss", "epochs", "training_seconds", "parameters"] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["checkpoint.safetensors", "history.json", "metrics.csv", "tensorboard", "figures"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        var training = SegmentationTrainingConfiguration()
        try StageSupport.applyTrainingLoop(p, seed: context.seed, stage: context.stageName, to: &training)
        training.decoupledWeightDecay = p.bool("decoupled_weight_decay")
        var workflow = SegmentationTrainingWorkflow(model: StageSupport.detectorConfiguration(p), training: training)
        workflow.areaThreshold = p.int("area_threshold")
        let root = StageSupport.layoutFolder(StageSupport.input(context, "dataset"), layout: "segmentation")
        let start = Date()
        let outcome = try workflow.run(
            dataset: root, trainSplit: try StageSupport.splitFile(context.input("splits"), name: p.string("train_split")),
            validationSplit: try StageSupport.splitFile(context.input("splits"), name: p.string("validation_split")),
            resumeCheckpoint: context.checkpointDirectory.appendingPathComponent("training.safetensors"),
            outputCheckpoint: context.outputURL("checkpoint.safetensors"), outputHistory: context.outputURL("history.json"),
            records: StageSupport.trainingRecords(context), progress: { StageSupport.report(context, $0) },
            checkCancellation: StageSupport.cancellationCheck(context),
            pauseRequested: StageSupport.pauseCheck(context), log: context.log)
        var metrics: [String: Double] = ["epochs": Double(training.epochs),
                                         "training_seconds": Date().timeIntervalSince(start),
                                         "parameters": Double(outcome.trainableParameters)]
        metrics["train_loss"] = outcome.lastEpoch?.trainLoss
        metrics["validation_loss"] = outcome.lastEpoch?.validationLoss
        return StageResult(metrics: metrics)
    }
}

/// `evaluate_map`: the seed's mAP (spec §7.1) and COCO statistics of a checkpoint on a split.
struct EvaluateMapStage: StageKind {
    let name = "evaluate_map"
    // 2: figures/ in the evaluation folder.
    let version = "2"
    let summary = "Seed mAP over IoU 0.50:0.95 and COCO bbox/segm statistics of a segmentation checkpoint."
    let parameters: [ParameterSpec] = [
        ParameterSpec("split", .string, default: "test", description: "Part of the splits input to evaluate on; empty for all slices."),
    ] + StageSupport.postProcessingParameters(.evaluation, source: "the seed's mAP script, spec §7.1") + [
        ParameterSpec("area_threshold", .integer, default: 100, minimum: 0, description: "Ground-truth components of at most this many pixels are dropped."),
        ParameterSpec("overlays", .integer, default: 6, minimum: 0, description: "Overlay PNGs written for the first this many slices."),
        ParameterSpec("figure_slices", .integer, default: 4, minimum: 0, maximum: 32,
                      description: "Slices in each seed-style figure (most lesion pixels; lowest AP); 0 for none."),
        ParameterSpec("figure_score_threshold", .number, default: 0.5, minimum: 0, maximum: 1,
                      description: "Detections drawn in those figures need this score (at most 8 per slice)."),
    ]
    let inputSlots: [InputSlot] = [
        InputSlot("checkpoint", description: "A segmentation checkpoint (train_segmentation's checkpoint.safetensors)."),
        InputSlot("dataset", description: "Data set with a CNCB segmentation layout."),
        InputSlot("splits", description: "Split files from a split_dataset stage.", optional: true),
    ]
    let determinism = Determinism.deterministic
    var reportedMetrics: [String] {
        ["seed_map", "seed_ap50", "seed_ap75", "images", "ground_truth_instances", "detections"]
            + ["seed_ap55", "seed_ap60", "seed_ap65", "seed_ap70", "seed_ap80", "seed_ap85", "seed_ap90", "seed_ap95"]
            + ["coco_bbox", "coco_segm"].flatMap { prefix in
                ["ap", "ap50", "ap75", "aps", "apm", "apl", "ar1", "ar10", "ar100", "ars", "arm", "arl"].map { "\(prefix)_\($0)" }
            }
    }
    func outputNames(for parameters: ParameterValues) -> [String] { ["evaluation"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        var workflow = SegmentationEvaluationWorkflow()
        workflow.postProcessing = StageSupport.postProcessing(p)
        workflow.areaThreshold = p.int("area_threshold")
        workflow.overlayCount = p.int("overlays")
        workflow.figureSlices = p.int("figure_slices")
        workflow.figureScoreThreshold = Float(p.double("figure_score_threshold"))
        let result = try workflow.run(
            checkpoint: StageSupport.input(context, "checkpoint"),
            dataset: StageSupport.layoutFolder(StageSupport.input(context, "dataset"), layout: "segmentation"),
            split: try StageSupport.splitFile(context.input("splits"), name: p.string("split")),
            outputDirectory: context.outputURL("evaluation")) { done, total in
                if context.isCancelled { return }
                context.report(StageProgress(step: done, steps: total, unit: "slices", fraction: Double(done) / Double(total)))
            }
        for line in result.seedMAP.summaryLines { context.log(line) }
        return StageResult(metrics: result.metrics)
    }
}

/// `infer_segmentation`: detections, label masks and overlays for a folder of slices (spec §8).
struct InferSegmentationStage: StageKind {
    let name = "infer_segmentation"
    let version = "1"
    let summary = "Run a segmentation checkpoint over a folder of slices: COCO results, label-mask PNGs, overlays."
    let parameters: [ParameterSpec] = StageSupport.postProcessingParameters(.inference, source: "the seed's inference script, spec §8") + [
        ParameterSpec("overlays", .integer, default: 20, minimum: 0, description: "Overlay PNGs written for the first this many slices."),
        ParameterSpec("subfolder", .string, default: "segmentation/imgs",
                      description: "Folder of slices inside the images input (empty: the input itself)."),
    ]
    let inputSlots: [InputSlot] = [
        InputSlot("checkpoint", description: "A segmentation checkpoint."),
        InputSlot("images", description: "A folder holding the slices (a generated data set, or file:PATH)."),
    ]
    let determinism = Determinism.deterministic
    var reportedMetrics: [String] { ["images", "detections", "images_with_detections"] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["inference"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        var images = StageSupport.input(context, "images")
        let subfolder = p.string("subfolder")
        if !subfolder.isEmpty, FileManager.default.fileExists(atPath: images.appendingPathComponent(subfolder).path) {
            images = images.appendingPathComponent(subfolder)
        }
        let options = SegmentationInferenceOptions(postProcessing: StageSupport.postProcessing(p), overlayLimit: p.int("overlays"))
        let summary = try SegmentationInference.run(checkpoint: StageSupport.input(context, "checkpoint"), images: images,
                                                    output: context.outputURL("inference"), options: options) { done, _, total in
            context.report(StageProgress(step: done, steps: total, unit: "slices", fraction: Double(done) / Double(max(total, 1))))
        }
        return StageResult(metrics: ["images": Double(summary.imageCount), "detections": Double(summary.detectionCount),
                                     "images_with_detections": Double(summary.imagesWithDetections)])
    }
}
