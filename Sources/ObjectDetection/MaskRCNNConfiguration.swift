import CTDatasets
import Foundation
import NeuralNetwork
import VisionBackbones

// `MaskType` (which lesion classes the detector separates, spec §1.1.3, Appendix D/B1) lives in CTDatasets,
// beside the mask-value mapping it names: the data set decides the classes, the detector only counts them.

/// Every setting of the seed's Mask R-CNN (spec §3–§4, §6.1, §10.3), with the seed's defaults.
/// Thresholds that the original scripts set differently per script are explicit here (Appendix D/B19).
public struct MaskRCNNConfiguration: Codable, Equatable, Sendable {
    public var backbone: BackboneConfiguration
    public var maskType: MaskType
    /// Anchor sizes and aspect ratios, the same on every level (spec §3.1).
    public var anchorSizes: [Float] = [2, 4, 8, 16, 32]
    public var aspectRatios: [Float] = [0.1, 0.25, 0.5, 1, 1.5, 2]

    // Transform (§1.2).
    public var minSize = 512
    public var maxSize = 1024
    public var imageMean: [Float] = [0.485, 0.456, 0.406]
    public var imageStd: [Float] = [0.229, 0.224, 0.225]

    // RPN (§3.4, §3.5).
    public var rpnPreNMSTopNTrain = 2000
    public var rpnPostNMSTopNTrain = 2000
    public var rpnPreNMSTopNTest = 1000
    public var rpnPostNMSTopNTest = 1000
    public var rpnNMSThreshold: Float = 0.75
    public var rpnForegroundIoU: Float = 0.7
    public var rpnBackgroundIoU: Float = 0.3
    public var rpnBatchSizePerImage = 256
    public var rpnPositiveFraction: Float = 0.75

    // RoI heads (§4.4, §4.6).
    public var boxForegroundIoU: Float = 0.75
    public var boxBackgroundIoU: Float = 0.5
    public var boxBatchSizePerImage = 256
    public var boxPositiveFraction: Float = 0.75
    public var boxScoreThreshold: Float = 0.05
    public var boxNMSThreshold: Float = 0.5
    public var detectionsPerImage = 100
    public var boxRegressionWeights: [Float] = [10, 10, 5, 5]
    /// TwoMLPHead representation size.
    public var representationSize = 128

    public init(backbone: BackboneConfiguration, maskType: MaskType) {
        self.backbone = backbone
        self.maskType = maskType
    }

    /// Detector classes including background.
    public var classCount: Int { maskType.classCount }
    /// Mask head conv widths: one conv of 128 for the light models, four of 256 for ResNet50 (§4.5).
    public var maskHeadLayers: [Int] { backbone.isLight ? [128] : [256, 256, 256, 256] }
    /// Channels of the mask predictor's transposed conv.
    public var maskPredictorChannels: Int { backbone.isLight ? 128 : 256 }
    /// Anchors per location.
    public var anchorsPerLocation: Int { anchorSizes.count * aspectRatios.count }

    /// The configuration as the metadata block of a checkpoint (Appendix D/B15).
    public func metadata() -> [String: String] {
        let json = canonicalJSONString(self)
        return [
            "format": "masknet-maskrcnn", "backbone": backbone.depth.rawValue, "truncation": "\(backbone.truncation)",
            "mask_type": maskType.rawValue, "num_classes": "\(classCount)",
            "anchor_sizes": anchorSizes.map { "\($0)" }.joined(separator: ","),
            "aspect_ratios": aspectRatios.map { "\($0)" }.joined(separator: ","),
            "configuration": json,
        ]
    }

    /// Reads the configuration back from checkpoint metadata.
    public static func from(metadata: [String: String]) -> MaskRCNNConfiguration? {
        guard let json = metadata["configuration"] else { return nil }
        return try? JSONDecoder().decode(MaskRCNNConfiguration.self, from: Data(json.utf8))
    }
}
