import NeuralNetwork
import TensorCore

/// torchvision's FeaturePyramidNetwork with `extra_blocks=None` (spec §0.3): per level a 1×1 "inner"
/// conv to 256 channels and a 3×3 "layer" conv; a top-down pass adds the nearest-upsampled coarser
/// inner map. The seed removed the extra max-pool level, so there is none here.
public final class FeaturePyramidNetwork {
    public let outChannels: Int
    let innerBlocks: [Conv2d]
    let layerBlocks: [Conv2d]

    public init(_ scope: ParameterScope, inChannels: [Int], outChannels: Int = 256, generator: inout SeededGenerator) {
        self.outChannels = outChannels
        innerBlocks = inChannels.enumerated().map { index, channels in
            Conv2d(scope.child("inner_blocks").child("\(index)"), inChannels: channels, outChannels: outChannels,
                   kernelSize: 1, initialization: .kaimingUniformUnitGain, generator: &generator)
        }
        layerBlocks = inChannels.indices.map { index in
            Conv2d(scope.child("layer_blocks").child("\(index)"), inChannels: outChannels, outChannels: outChannels,
                   kernelSize: 3, padding: 1, initialization: .kaimingUniformUnitGain, generator: &generator)
        }
    }

    /// Feature maps finest first → pyramid levels finest first, each `[N, 256, H_l, W_l]`.
    public func callAsFunction(_ features: [Variable], _ context: ForwardContext) -> [Variable] {
        precondition(features.count == innerBlocks.count,
                     "FPN built for \(innerBlocks.count) levels got \(features.count) feature maps")
        var last = innerBlocks[features.count - 1](features[features.count - 1], context)
        var outputs = [layerBlocks[features.count - 1](last, context)]
        for level in stride(from: features.count - 2, through: 0, by: -1) {
            let lateral = innerBlocks[level](features[level], context)
            let topDown = upsampleNearest(last, height: lateral.shape[2], width: lateral.shape[3])
            last = lateral + topDown
            outputs.insert(layerBlocks[level](last, context), at: 0)
        }
        return outputs
    }
}
