/// The RoI heads' inference filter (spec §4.6 steps 5–7): which candidates become detections. A value
/// passed per call to `MaskRCNN.detect`, so evaluation and inference change it without rebuilding a model;
/// the configuration's copy (`MaskRCNNConfiguration.postProcessing`) is the default.
public struct DetectionPostProcessing: Codable, Equatable, Sendable {
    /// Keep candidates whose softmax score is strictly above this (`box_score_thresh`).
    public var scoreThreshold: Float
    /// Per-class NMS IoU threshold (`box_nms_thresh`).
    public var nmsThreshold: Float
    /// At most this many detections per image, highest scores first (`box_detections_per_img`).
    public var detectionsPerImage: Int

    /// A filter; the defaults are the model constructor's and the seed's inference script's (spec §10.3, §8).
    public init(scoreThreshold: Float = 0.05, nmsThreshold: Float = 0.5, detectionsPerImage: Int = 100) {
        self.scoreThreshold = scoreThreshold
        self.nmsThreshold = nmsThreshold
        self.detectionsPerImage = detectionsPerImage
    }
}

extension MaskRCNNConfiguration {
    /// The post-processing this configuration's checkpoint was written with (the default of `detect`).
    public var postProcessing: DetectionPostProcessing {
        get { DetectionPostProcessing(scoreThreshold: boxScoreThreshold, nmsThreshold: boxNMSThreshold,
                                      detectionsPerImage: detectionsPerImage) }
        set {
            boxScoreThreshold = newValue.scoreThreshold
            boxNMSThreshold = newValue.nmsThreshold
            detectionsPerImage = newValue.detectionsPerImage
        }
    }
}
