import Foundation
import ObjectDetection

/// The post-processing of a segmentation run, shared by `evaluate_map`, `infer_segmentation` and
/// `masknet infer`: the RoI heads' filter (score, per-class NMS, count) and the mask binarisation.
/// Passed per call to `MaskRCNN.detect`, so no second model is built to change it.
///
/// The seed's scripts differ only in the detection count: its mAP script keeps 128 detections per slice
/// (spec §7.1), its inference script 100 (spec §8); both use score > 0.05, NMS 0.5 and mask logit > 0.5.
public struct SegmentationPostProcessing: Sendable, Equatable {
    /// Keep detections whose softmax score is strictly above this (`--confidence_th`, `box_score_thresh`).
    public var scoreThreshold: Float
    /// Per-class NMS IoU threshold of the RoI heads (`--roi_nms_th`, `box_nms_thresh`).
    public var nmsThreshold: Float
    /// At most this many detections per slice (`box_detections_per_img`).
    public var detectionsPerImage: Int
    /// A pixel belongs to a detection where its pasted mask LOGIT is strictly above this (`--mask_logits_th`,
    /// spec §4.6 and Appendix D/B5: 0.5 is a probability of sigmoid(0.5) ≈ 0.6225).
    public var maskLogitThreshold: Float

    /// Settings; the defaults are the seed's inference script's (spec §8).
    public init(scoreThreshold: Float = 0.05, nmsThreshold: Float = 0.5, detectionsPerImage: Int = 100,
                maskLogitThreshold: Float = 0.5) {
        self.scoreThreshold = scoreThreshold
        self.nmsThreshold = nmsThreshold
        self.detectionsPerImage = detectionsPerImage
        self.maskLogitThreshold = maskLogitThreshold
    }

    /// The seed's mAP script (`evaluation_mean_ap.py`, spec §7.1): 128 detections per slice.
    public static let evaluation = SegmentationPostProcessing(detectionsPerImage: 128)
    /// The seed's inference script (`inference_segmentation.py`, spec §8): 100 detections per slice.
    public static let inference = SegmentationPostProcessing(detectionsPerImage: 100)

    /// The RoI heads' part, for `MaskRCNN.detect(image:postProcessing:)`.
    public var detection: DetectionPostProcessing {
        DetectionPostProcessing(scoreThreshold: scoreThreshold, nmsThreshold: nmsThreshold, detectionsPerImage: detectionsPerImage)
    }

    /// The probability the logit threshold corresponds to, sigmoid(threshold) (Appendix D/B5).
    public var maskProbabilityThreshold: Float { 1 / (1 + exp(-maskLogitThreshold)) }

    /// Throws a `WorkflowError` naming the setting for values no run can use.
    public func validate() throws {
        guard detectionsPerImage >= 1 else {
            throw WorkflowError("detections per image must be at least 1, got \(detectionsPerImage)")
        }
        guard (0...1).contains(nmsThreshold) else {
            throw WorkflowError("the NMS threshold must be in [0, 1], got \(nmsThreshold)")
        }
        guard scoreThreshold.isFinite, scoreThreshold < 1 else {
            throw WorkflowError("the score threshold must be a finite number below 1 (scores are probabilities), got \(scoreThreshold)")
        }
        guard maskLogitThreshold.isFinite else {
            throw WorkflowError("the mask logit threshold must be a finite number, got \(maskLogitThreshold)")
        }
    }
}
