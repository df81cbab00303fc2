import Foundation
import NeuralNetwork
import ObjectDetection
import TensorCore
import VisionBackbones

/// Classifier settings (spec §4.7, §5, §6.2; Appendix D/B9, B10).
public struct ClassifierConfiguration: Codable, Equatable, Sendable {
    /// The detector underneath (backbone, classes, anchors, RPN thresholds). Its box score threshold is
    /// ignored: the classifier path never filters by score (B25).
    public var detector: MaskRCNNConfiguration
    /// D: rows given to S (`roi_batch_size`).
    public var roiBatchSize = 256
    /// s: S's hidden width (`s_features`).
    public var features = 1024
    /// Per-class NMS of the classifier RoI head (`roi_nms_th`).
    public var roiNMSThreshold: Float = 0.75
    /// Also train the downsample BatchNorm affine parameters (off in the seed, B10).
    public var trainDownsampleBatchNorm = false
    /// Train the BatchNorm affine parameters beside S (the seed does, B10). Off, S alone learns on a fixed
    /// detector: no gradient reaches the detector, so its forward pass records nothing for backward.
    public var trainBatchNormAffine = true
    /// Also train the RoI box predictor (`roi_heads.box_predictor`: class scores and class-specific deltas),
    /// off in the seed. S sees rows of score and deltas without their class; a trainable predictor can make
    /// its outputs say which lesion class a row is, which S needs to tell CP from COVID-19.
    public var trainBoxPredictor = false
    /// Append each ranked row's lesion class (one-hot over classes 1…n_c−1) to its [score, dx, dy, dw, dh],
    /// off in the seed (spec §5: S takes no labels). Rows interleave classes in score order, so without the
    /// label S cannot tell a confident GGO row from a confident consolidation row, which is what separates
    /// COVID-19 from common pneumonia; the better the detector, the less its scores leak the class.
    public var rowClassColumns = false
    /// Append each ranked row's box geometry (centre x, centre y, width, height of its decoded box, as
    /// fractions of the resized image) after the class columns, off in the seed. The seed's raw deltas are
    /// offsets from the row's proposal, so S never sees where a lesion is or how large it is, yet size and
    /// place are what tell a lobar consolidation (common pneumonia: large, deep) from COVID-19's patches
    /// (small, peripheral) when both show GGO and consolidation.
    public var rowBoxColumns = false
    /// How each ranked row's score reaches S: the softmax probability (the seed) or on a log scale. Most
    /// rows of a slice score near 0, so a weak lesion (0.02) and a clean control (0.001) differ by
    /// hundredths beside raw deltas of order 1, a difference S barely sees; on the log scale by 0.3.
    public var scoreEncoding = RankedScoreEncoding.probability

    /// `rowClassColumns`, `rowBoxColumns` and `scoreEncoding` as one value.
    public var rankedRows: RankedRowLayout {
        get { RankedRowLayout(classColumns: rowClassColumns, boxColumns: rowBoxColumns, scoreEncoding: scoreEncoding) }
        set { (rowClassColumns, rowBoxColumns, scoreEncoding) = (newValue.classColumns, newValue.boxColumns, newValue.scoreEncoding) }
    }

    /// One-hot class columns per ranked row: one per lesion class with `rowClassColumns`, else none.
    public var rankedClassColumns: Int { rowClassColumns ? detector.classCount - 1 : 0 }

    /// Columns of one ranked row given to S: score, 4 raw deltas, with `rowClassColumns` one per lesion class,
    /// with `rowBoxColumns` the box's 4 geometry columns.
    public var rankedRowWidth: Int { RankedBoxExtraction.rowWidth(classColumns: rankedClassColumns, boxColumns: rowBoxColumns) }

    /// A classifier on `detector` with D and s.
    public init(detector: MaskRCNNConfiguration, roiBatchSize: Int = 256, features: Int = 1024) {
        self.detector = detector
        self.roiBatchSize = roiBatchSize
        self.features = features
    }

    /// The trainable set's name in checkpoint metadata (`trainable_set`), e.g. `s2new+bn`.
    public var trainableSetName: String {
        var parts = ["s2new"]
        if trainBatchNormAffine { parts.append("bn") }
        if trainBatchNormAffine && trainDownsampleBatchNorm { parts.append("downsample-bn") }
        if trainBoxPredictor { parts.append("box-predictor") }
        return parts.joined(separator: "+")
    }

    enum CodingKeys: String, CodingKey {
        case detector, roiBatchSize, features, roiNMSThreshold, trainDownsampleBatchNorm, trainBatchNormAffine
        case trainBoxPredictor, rowClassColumns, rowBoxColumns, scoreEncoding
    }

    /// Checkpoints written before `trainBatchNormAffine`, `trainBoxPredictor`, `rowClassColumns`,
    /// `rowBoxColumns` and `scoreEncoding` existed trained the seed's set on the seed's rows.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        detector = try container.decode(MaskRCNNConfiguration.self, forKey: .detector)
        roiBatchSize = try container.decode(Int.self, forKey: .roiBatchSize)
        features = try container.decode(Int.self, forKey: .features)
        roiNMSThreshold = try container.decode(Float.self, forKey: .roiNMSThreshold)
        trainDownsampleBatchNorm = try container.decode(Bool.self, forKey: .trainDownsampleBatchNorm)
        trainBatchNormAffine = try container.decodeIfPresent(Bool.self, forKey: .trainBatchNormAffine) ?? true
        trainBoxPredictor = try container.decodeIfPresent(Bool.self, forKey: .trainBoxPredictor) ?? false
        rowClassColumns = try container.decodeIfPresent(Bool.self, forKey: .rowClassColumns) ?? false
        rowBoxColumns = try container.decodeIfPresent(Bool.self, forKey: .rowBoxColumns) ?? false
        scoreEncoding = try container.decodeIfPresent(RankedScoreEncoding.self, forKey: .scoreEncoding) ?? .probability
    }

    /// Writes the options added later only when they differ from the seed's, so checkpoints of the seed's
    /// set and rows stay byte-identical to those written before the options existed (and stay cached).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(detector, forKey: .detector)
        try container.encode(roiBatchSize, forKey: .roiBatchSize)
        try container.encode(features, forKey: .features)
        try container.encode(roiNMSThreshold, forKey: .roiNMSThreshold)
        try container.encode(trainDownsampleBatchNorm, forKey: .trainDownsampleBatchNorm)
        if !trainBatchNormAffine { try container.encode(false, forKey: .trainBatchNormAffine) }
        if trainBoxPredictor { try container.encode(true, forKey: .trainBoxPredictor) }
        if rowClassColumns { try container.encode(true, forKey: .rowClassColumns) }
        if rowBoxColumns { try container.encode(true, forKey: .rowBoxColumns) }
        if scoreEncoding != .probability { try container.encode(scoreEncoding, forKey: .scoreEncoding) }
    }

    /// Checkpoint metadata (Appendix D/B15).
    public func metadata() -> [String: String] {
        var metadata = detector.metadata()
        metadata["format"] = "masknet-classifier"
        metadata["roi_batch_size"] = "\(roiBatchSize)"
        metadata["s_features"] = "\(features)"
        metadata["classifier_configuration"] = canonicalJSONString(self)
        return metadata
    }

    /// The configuration recorded in a classifier checkpoint's metadata, if any.
    public static func from(metadata: [String: String]) -> ClassifierConfiguration? {
        guard let json = metadata["classifier_configuration"] else { return nil }
        return try? JSONDecoder().decode(ClassifierConfiguration.self, from: Data(json.utf8))
    }
}

/// COVID-CT-Mask-Net (spec §0.2): Faster R-CNN (no mask branch) in eval mode → ranked boxes → module S.
public final class CovidCTMaskNet {
    /// Its settings.
    public let configuration: ClassifierConfiguration
    /// The Faster R-CNN underneath (no mask branch).
    public let detector: MaskRCNN
    /// Module S (`s2new.*`).
    public let classificationModule: ClassificationModule
    /// The classifier RoI head's ranked-box step.
    public let extraction: RankedBoxExtraction
    /// Every tensor of the classifier (detector and S) by state-dict key.
    public var parameters: ParameterStore { detector.parameters }

    /// Builds the classifier with weights initialised from `seed` (S from its own stream).
    public init(configuration: ClassifierConfiguration, seed: UInt64) {
        self.configuration = configuration
        detector = MaskRCNN(configuration: configuration.detector, seed: seed, withMasks: false)
        var generator = SeededGenerator(seed: seed, stream: "classifier.s2new.init")
        classificationModule = ClassificationModule(ParameterScope(store: detector.parameters, prefix: "s2new"),
                                                    roiBatchSize: configuration.roiBatchSize,
                                                    rowWidth: configuration.rankedRowWidth,
                                                    features: configuration.features, generator: &generator)
        extraction = RankedBoxExtraction(roiBatchSize: configuration.roiBatchSize,
                                         nmsThreshold: configuration.roiNMSThreshold,
                                         classColumns: configuration.rankedClassColumns,
                                         boxColumns: configuration.rowBoxColumns,
                                         scoreEncoding: configuration.scoreEncoding)
    }

    /// Class logits `[1, 3]` for one image `[3, H, W]` in [0, 1]. The detector always runs in eval mode
    /// (test-time top-n, running BN statistics); with a tape in `context`, gradients flow from S through
    /// the scores and raw deltas into the box head, RoIAlign, FPN and backbone (spec §4.7 step 6).
    /// `paddingGenerator` draws the fixed-D padding runs (seed it from the run seed and the image).
    public func logits(image: Tensor, context: ForwardContext, paddingGenerator: inout SeededGenerator)
        -> (logits: Variable, ranked: RankedBoxes) {
        // BN statistics are frozen whatever the caller's context says (spec §5.4): only the tape is taken.
        let context = ForwardContext(tape: context.tape, batchNormMode: .evaluation)
        let prepared = detector.transform(image)
        let levels = detector.backbone(Variable(prepared.batch), context)
        var unused = SeededGenerator(seed: 0)
        // Proposals are detached (spec §4.7 step 6), so S's output never depends on the RPN head: run it on
        // detached levels off the tape, which saves recording (and keeping) its activations (Appendix D/B10).
        let proposalContext = ForwardContext(tape: nil, batchNormMode: .evaluation)
        let proposals = detector.rpn(levels.map { $0.detached() }, image: prepared, training: false, target: nil,
                                     context: proposalContext,
                                     generator: &unused).proposals
        let (classLogits, deltas) = detector.roiHeads.boxOutputs(levels, rois: proposals, image: prepared, context)
        let ranked = extraction(logits: classLogits, deltas: deltas, proposals: proposals, image: prepared,
                                roiHeads: detector.roiHeads, generator: &paddingGenerator)
        return (classificationModule(ranked.rows, context), ranked)
    }

    /// The optimised set (spec §5.3, Appendix D/B10): S plus the affine weights of BatchNorm layers named
    /// bn1/bn2/bn3 (and the downsample BN when configured), or S alone; optionally the RoI box predictor.
    /// Everything else gets no gradient buffer.
    public func applyTrainableSet() {
        let configuration = configuration
        parameters.setTrainable { Self.isInTrainableSet($0.name, configuration) }
    }

    /// Whether a parameter name belongs to the optimised set of `configuration`.
    public static func isInTrainableSet(_ name: String, _ configuration: ClassifierConfiguration) -> Bool {
        if configuration.trainBoxPredictor && name.hasPrefix("roi_heads.box_predictor.") { return true }
        return isInTrainableSet(name, includeDownsample: configuration.trainDownsampleBatchNorm,
                                includeBatchNorm: configuration.trainBatchNormAffine)
    }

    /// Whether a parameter name belongs to the seed's optimised set (S and BN affine), or S alone.
    public static func isInTrainableSet(_ name: String, includeDownsample: Bool, includeBatchNorm: Bool = true) -> Bool {
        if name.hasPrefix("s2new.") { return true }
        guard includeBatchNorm else { return false }
        let components = name.split(separator: ".")
        guard components.count >= 2, ["weight", "bias"].contains(components.last!) else { return false }
        let module = components[components.count - 2]
        if ["bn1", "bn2", "bn3"].contains(module) { return true }
        // downsample.1 is the BN of the identity branch.
        return includeDownsample && module == "1" && components.count >= 3 && components[components.count - 3] == "downsample"
    }

    /// Parameters the optimizer updates.
    public var trainableParameters: [Parameter] { parameters.parameters.filter(\.requiresGradient) }
}
