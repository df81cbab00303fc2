import ArgumentParser
import CTDatasets
import Foundation
import MaskNetWorkflows
import ObjectDetection

extension Masknet {
    /// `masknet infer`: runs a segmentation checkpoint over a folder of slices (the seed's
    /// inference_segmentation.py, spec §8, with COCO results and label masks added).
    struct Infer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "infer",
            abstract: "Detect and segment lesions in every PNG/JPEG slice of a folder with a segmentation checkpoint.",
            discussion: """
            Writes OUT/detections.json (COCO results: image_id, category_id, bbox [x,y,w,h], score, compressed-RLE \
            segmentation of mask logit > --mask-threshold, mask_probability), OUT/images.json (image ids = 0-based \
            positions in sorted file order, with file names and sizes; categories), OUT/inference.json (settings, \
            the equivalent probability threshold sigmoid(--mask-threshold), counts and timings), OUT/masks/<name>.png \
            (8-bit label of the highest-scoring detection per pixel, 0 background) and OUT/overlays/<name>.png \
            (slice, tinted masks, dashed boxes, class and score). Defaults are the seed's inference settings.
            """)

        @Option(name: .long, help: "Segmentation checkpoint: .safetensors with masknet metadata, or an original .pth file.")
        var checkpoint: String

        @Option(name: .long, help: "For two-class .pth files: merge or ggo (the weights cannot tell; a file name containing 'merge' means merge).")
        var maskType: String?

        @Option(name: .long, help: "RPN NMS threshold for .pth files, which do not store it (the seed's --rpn_nms_th).")
        var rpnNmsThreshold: Float = 0.75

        @Option(name: .long, help: "Folder of PNG/JPEG slices (other files are skipped).")
        var images: String

        @Option(name: .long, help: "Output folder (created if missing).")
        var out: String

        @Option(name: .long, help: "Keep detections whose score is strictly above this.")
        var scoreThreshold: Float = SegmentationPostProcessing.inference.scoreThreshold

        @Option(name: .long, help: "Per-class NMS IoU threshold of the RoI heads.")
        var nmsThreshold: Float = SegmentationPostProcessing.inference.nmsThreshold

        @Option(name: .long, help: "At most this many detections per slice.")
        var detectionsPerImage: Int = SegmentationPostProcessing.inference.detectionsPerImage

        @Option(name: .long, help: "Mask LOGIT threshold, as the seed's --mask_logits_th (0.5 = probability 0.62).")
        var maskThreshold: Float = SegmentationPostProcessing.inference.maskLogitThreshold

        @Option(name: .long, help: "Overlay PNGs for the first N slices only (default: all; 0: none).")
        var overlays: Int?

        @Flag(name: .long, help: "Do not write masks/<name>.png label masks.")
        var noLabelMasks = false

        @Flag(name: .long, help: "Print one line per slice.")
        var verbose = false

        func validate() throws {
            guard detectionsPerImage >= 1 else { throw ValidationError("--detections-per-image must be at least 1") }
            guard (0...1).contains(nmsThreshold) else { throw ValidationError("--nms-threshold must be in [0, 1]") }
            if let overlays, overlays < 0 { throw ValidationError("--overlays must be 0 or more") }
            if let maskType, MaskType(rawValue: maskType) == nil {
                throw ValidationError("--mask-type must be merge, ggo or both, got '\(maskType)'")
            }
            guard (0...1).contains(rpnNmsThreshold) else { throw ValidationError("--rpn-nms-threshold must be in [0, 1]") }
            guard FileManager.default.fileExists(atPath: checkpoint) else {
                throw ValidationError("--checkpoint: no such file '\(checkpoint)'")
            }
        }

        func run() throws {
            let options = SegmentationInferenceOptions(
                postProcessing: SegmentationPostProcessing(scoreThreshold: scoreThreshold, nmsThreshold: nmsThreshold,
                                                           detectionsPerImage: detectionsPerImage, maskLogitThreshold: maskThreshold),
                overlayLimit: overlays, writeLabelMasks: !noLabelMasks)
            let summary = try SegmentationInference.run(
                checkpoint: URL(fileURLWithPath: checkpoint), images: URL(fileURLWithPath: images),
                output: URL(fileURLWithPath: out), options: options,
                importOptions: CheckpointImportOptions(maskType: maskType.flatMap(MaskType.init(rawValue:)),
                                                       rpnNMSThreshold: rpnNmsThreshold),
                progress: verbose ? { index, name, count in print("[\(index)] \(name): \(count) detections") } : nil)
            if !summary.skippedFiles.isEmpty {
                print("skipped \(summary.skippedFiles.count) non-image file(s): \(summary.skippedFiles.joined(separator: ", "))")
            }
            print("\(summary.imageCount) slices, \(summary.detectionCount) detections (\(summary.imagesWithDetections) slices "
                  + "with detections), \(summary.overlayCount) overlays -> \(out)")
            print(String(format: "load %.2f s, detect %.2f s (%.3f s/slice), total %.2f s", summary.loadSeconds,
                         summary.detectSeconds, summary.detectSeconds / Double(max(1, summary.imageCount)),
                         summary.totalSeconds))
        }
    }
}
