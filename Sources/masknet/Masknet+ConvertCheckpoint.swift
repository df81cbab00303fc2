import ArgumentParser
import CTDatasets
import Foundation
import MaskNetWorkflows
import ObjectDetection

extension Masknet {
    /// `masknet convert-checkpoint`: an original COVID-CT-Mask-Net `.pth` file to a masknet safetensors
    /// checkpoint, without Python (the same content `Tools/convert_checkpoint.py` writes).
    struct ConvertCheckpoint: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "convert-checkpoint",
            abstract: "Convert an original .pth checkpoint (segmentation or classifier) into a masknet .safetensors file.",
            discussion: """
            Reads both torch.save formats (zip and legacy) with a restricted unpickler that executes nothing. \
            Backbone, truncation, class count, box-head width and (for classifiers) D and s are inferred from the \
            tensor shapes, anchors from the pickled AnchorGenerator. Two-class files need --mask-type unless their \
            name contains 'merge'. Every command and stage that takes a checkpoint also reads .pth files directly; \
            converting once saves the unpickling on every load.
            """)

        @Argument(help: "The original .pth checkpoint.")
        var checkpoint: String

        @Argument(help: "The .safetensors file to write (atomically).")
        var output: String

        @Option(name: .long, help: "merge or ggo for two-class files; three classes are always both.")
        var maskType: String?

        @Option(name: .long, help: "The RPN NMS threshold the model is run with (not stored in .pth files).")
        var rpnNmsThreshold: Float = 0.75

        @Option(name: .long, help: "The classifier RoI NMS threshold (classifier files; --roi_nms_th).")
        var roiNmsThreshold: Float = 0.75

        func validate() throws {
            if let maskType, MaskType(rawValue: maskType) == nil {
                throw ValidationError("--mask-type must be merge, ggo or both, got '\(maskType)'")
            }
            guard FileManager.default.fileExists(atPath: checkpoint) else {
                throw ValidationError("no such file '\(checkpoint)'")
            }
            guard CheckpointImport.isTorchFile(URL(fileURLWithPath: checkpoint)) else {
                throw ValidationError("'\(checkpoint)' is not a file written by torch.save (neither zip nor legacy format)")
            }
        }

        func run() throws {
            let options = CheckpointImportOptions(maskType: maskType.flatMap(MaskType.init(rawValue:)),
                                                  rpnNMSThreshold: rpnNmsThreshold, roiNMSThreshold: roiNmsThreshold)
            let file = try CheckpointImport.read(URL(fileURLWithPath: checkpoint), options: options)
            try file.write(to: URL(fileURLWithPath: output))
            let meta = file.metadata
            print("wrote \(output): \(meta["format"] ?? "?") \(meta["backbone"] ?? "?") truncation \(meta["truncation"] ?? "?"), "
                  + "mask type \(meta["mask_type"] ?? "?"), \(meta["num_classes"] ?? "?") classes, anchors "
                  + "\(meta["anchor_sizes"] ?? "?") x \(meta["aspect_ratios"] ?? "?"), epoch \(meta["epoch"] ?? "?"), "
                  + "\(file.tensors.count + file.integerTensors.count) tensors")
        }
    }
}
