import CTDatasets
import Foundation
import MaskNetWorkflows
import ObjectDetection
import PipelineEngine

/// `import_checkpoint`: brings an original COVID-CT-Mask-Net `.pth` file (or a masknet safetensors file)
/// into the store as a masknet checkpoint, so later stages key on its content (spec §6.1, §6.2).
struct ImportCheckpointStage: StageKind {
    let name = "import_checkpoint"
    let version = "1"
    let summary = "Read a published .pth checkpoint (segmentation or classifier, zip or legacy format) into a masknet checkpoint."
    let parameters: [ParameterSpec] = [
        ParameterSpec("path", .string, description: "The .pth (or .safetensors) file (absolute, or relative to where masknet runs)."),
        ParameterSpec("mask_type", .choice(["auto", "merge", "ggo", "both"]), default: "auto",
                      description: "Mask type of two-class files (the weights cannot tell merge from ggo); auto: three classes are both, a file name containing 'merge' is merge."),
        ParameterSpec("rpn_nms_threshold", .number, default: 0.75, minimum: 0, maximum: 1,
                      description: "RPN NMS threshold to run the model with (rpn_nms_th; .pth files do not store it)."),
        ParameterSpec("roi_nms_threshold", .number, default: 0.75, minimum: 0, maximum: 1,
                      description: "Classifier files: per-class NMS of the classifier RoI head (roi_nms_th)."),
    ]
    let inputSlots: [InputSlot] = []
    let determinism = Determinism.deterministic
    var reportedMetrics: [String] { ["tensors", "parameters"] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["checkpoint.safetensors"] }

    func externalState(for parameters: ParameterValues) -> JSONValue? {
        ExternalState.fingerprint([parameters.string("path")])
    }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        let source = URL(fileURLWithPath: p.string("path"))
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw WorkflowError("import_checkpoint: \(source.path) does not exist; set the stage's path to the checkpoint (for example with --set \(context.stageName).path=/models/segmentation_model_merged_masks.pth)")
        }
        let options = CheckpointImportOptions(maskType: MaskType(rawValue: p.string("mask_type")),
                                              rpnNMSThreshold: Float(p.double("rpn_nms_threshold")),
                                              roiNMSThreshold: Float(p.double("roi_nms_threshold")))
        let file = try CheckpointImport.read(source, options: options)
        try file.write(to: context.outputURL("checkpoint.safetensors"))
        let parameterCount = file.tensors.values.reduce(0) { $0 + $1.count }
        context.log("imported \(source.lastPathComponent): \(file.metadata["format"] ?? "?") \(file.metadata["backbone"] ?? "?") "
                    + "truncation \(file.metadata["truncation"] ?? "?"), mask type \(file.metadata["mask_type"] ?? "?"), "
                    + "\(file.tensors.count + file.integerTensors.count) tensors")
        return StageResult(metrics: ["tensors": Double(file.tensors.count + file.integerTensors.count),
                                     "parameters": Double(parameterCount)])
    }
}
