import ArgumentParser
import EvaluationMetrics
import Foundation

extension Masknet {
    /// `masknet coco-eval`: COCO evaluation of a results file against a ground-truth file, as pycocotools.
    struct CocoEval: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "coco-eval",
            abstract: "Evaluate COCO results (bbox or segm) against COCO ground truth, identically to pycocotools.",
            discussion: """
                Prints the 12 standard statistics in pycocotools' summarize() layout, or with --json one JSON \
                object {"iouType", "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}. \
                -1 means "nothing to evaluate" (no ground truth in that area range), as in pycocotools.
                """)

        @Option(name: .customLong("gt"), help: "COCO ground-truth JSON (images, categories, annotations).")
        var groundTruth: String

        @Option(name: .customLong("dt"), help: "COCO results JSON: an array of detections with compressed-RLE segmentation and/or bbox.")
        var detections: String

        @Option(name: .customLong("iou-type"), help: "bbox or segm.")
        var iouType: String

        @Flag(name: .customLong("json"), help: "Print the statistics as one JSON object.")
        var json = false

        func validate() throws {
            guard COCOIoUType(rawValue: iouType) != nil else {
                throw ValidationError("--iou-type must be bbox or segm, not '\(iouType)'")
            }
            for (flag, path) in [("--gt", groundTruth), ("--dt", detections)] where !FileManager.default.fileExists(atPath: path) {
                throw ValidationError("\(flag): no such file '\(path)'")
            }
        }

        func run() throws {
            let type = COCOIoUType(rawValue: iouType)!
            // COCOFormatError names the file and the key; ArgumentParser prints it as "Error: <file>: <key>: ...".
            let gt = try COCOGroundTruth(contentsOf: URL(fileURLWithPath: groundTruth))
            let dt = try COCODetections(contentsOf: URL(fileURLWithPath: detections), groundTruth: gt)
            let result = try COCOEvaluator.evaluate(groundTruth: gt, detections: dt, iouType: type)
            print(json ? result.statistics.jsonText : result.statistics.summaryText, terminator: "")
        }
    }
}
