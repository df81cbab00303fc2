import Foundation
import NeuralNetwork
import TensorCore
import VisionBackbones

/// The five losses of one training image (spec §4.5: the total is their unweighted sum).
public struct MaskRCNNLosses {
    public var classifier: Variable
    public var boxRegression: Variable
    public var mask: Variable
    public var objectness: Variable
    public var rpnBoxRegression: Variable

    /// loss_classifier + loss_box_reg + loss_mask + loss_objectness + loss_rpn_box_reg.
    public var total: Variable { addVariables([classifier, boxRegression, mask, objectness, rpnBoxRegression]) }

    /// The values by the seed's names.
    public var values: [String: Float] {
        ["loss_classifier": classifier.value.scalar, "loss_box_reg": boxRegression.value.scalar,
         "loss_mask": mask.value.scalar, "loss_objectness": objectness.value.scalar,
         "loss_rpn_box_reg": rpnBoxRegression.value.scalar]
    }
}

/// The seed's segmentation model (spec §0.2 "COVIDMaskNet"): transform → backbone+FPN → RPN → RoI heads
/// with box and mask branches. Parameter names are torchvision state_dict keys.
public final class MaskRCNN {
    public let configuration: MaskRCNNConfiguration
    public let parameters: ParameterStore
    public let transform: DetectionTransform
    public let backbone: ResNetFPNBackbone
    public let rpn: RegionProposalNetwork
    public let roiHeads: RoIHeads

    /// Builds the model with weights initialised from `seed` (spec §0.3, §2.1). `withMasks: false`
    /// builds the classifier's Faster R-CNN flavour (no mask branch).
    public init(configuration: MaskRCNNConfiguration, seed: UInt64, withMasks: Bool = true) {
        self.configuration = configuration
        parameters = ParameterStore()
        let root = ParameterScope(store: parameters)
        var generator = SeededGenerator(seed: seed, stream: "maskrcnn.init")
        transform = DetectionTransform(configuration: configuration)
        backbone = ResNetFPNBackbone(root.child("backbone"), configuration: configuration.backbone, generator: &generator)
        rpn = RegionProposalNetwork(root.child("rpn"), configuration: configuration, generator: &generator)
        roiHeads = RoIHeads(root.child("roi_heads"), configuration: configuration, withMasks: withMasks,
                            generator: &generator)
    }

    /// One training image's five losses (BN in training mode unless the context says otherwise).
    ///
    /// An image without instances is handled the torchvision ≥ 0.6 way: every anchor and proposal is a
    /// negative, the objectness and classifier losses are computed on the sampled negatives, and the box,
    /// RPN box and mask losses are exactly 0. Segmentation training still skips empty slices as the seed
    /// does (spec §1.1.4, Appendix D/B3); this path serves validation losses and edge cases.
    public func losses(image: Tensor, target: DetectionTarget, context: ForwardContext,
                       generator: inout SeededGenerator) -> MaskRCNNLosses {
        let prepared = transform(image, target: target)
        let levels = backbone(Variable(prepared.batch), context)
        let rpnOutput = rpn(levels, image: prepared, training: true, target: prepared.target, context: context,
                            generator: &generator)
        let headLosses = roiHeads.trainingLosses(levels, proposals: rpnOutput.proposals, image: prepared,
                                                 target: prepared.target!, context: context, generator: &generator)
        return MaskRCNNLosses(classifier: headLosses.classifier, boxRegression: headLosses.boxRegression,
                              mask: headLosses.mask, objectness: rpnOutput.losses!.objectness,
                              rpnBoxRegression: rpnOutput.losses!.boxRegression)
    }

    /// Inference on one image `[3, H, W]` in [0, 1]: boxes in original coordinates and masks pasted into
    /// the original image as logits (spec §4.6; background 0). `postProcessing` (score, NMS and count
    /// filter) defaults to the configuration's; evaluation and inference pass their own per call.
    public func detect(image: Tensor, postProcessing: DetectionPostProcessing? = nil) -> Detections {
        let context = ForwardContext.inference
        let prepared = transform(image)
        let levels = backbone(Variable(prepared.batch), context)
        var generator = SeededGenerator(seed: 0)  // unused in inference: no sampling happens
        let proposals = rpn(levels, image: prepared, training: false, target: nil, context: context,
                            generator: &generator).proposals
        var detections = roiHeads.detect(levels, proposals: proposals, image: prepared, context: context,
                                         postProcessing: postProcessing)
        detections.boxes = DetectionTransform.resizeBoxes(detections.boxes, from: prepared)
        if roiHeads.maskBranch != nil {
            detections.masks = detections.labels.isEmpty
                ? Tensor(shape: [0, prepared.originalHeight, prepared.originalWidth])
                : MaskOperations.pasteMasksInImage(detections.masks, boxes: detections.boxes,
                                                   imageHeight: prepared.originalHeight,
                                                   imageWidth: prepared.originalWidth)
        }
        return detections
    }
}
