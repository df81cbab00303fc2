import Foundation
import NeuralNetwork
import TensorCore

/// MaskRCNNHeads + MaskRCNNPredictor (spec §4.5): 3×3 convs with ReLU, a 2×2 stride-2 transposed conv
/// with ReLU, and a 1×1 conv to n_c mask logits of 28×28.
public final class MaskBranch {
    let convolutions: [Conv2d]
    let upsample: ConvTranspose2d
    let logits: Conv2d

    public init(head: ParameterScope, predictor: ParameterScope, layers: [Int], predictorChannels: Int,
                classCount: Int, generator: inout SeededGenerator) {
        var inChannels = 256
        var convolutions: [Conv2d] = []
        for (index, width) in layers.enumerated() {
            convolutions.append(Conv2d(head.child("mask_fcn\(index + 1)"), inChannels: inChannels, outChannels: width,
                                       kernelSize: 3, padding: 1, initialization: .kaimingNormalFanOut,
                                       generator: &generator))
            inChannels = width
        }
        self.convolutions = convolutions
        upsample = ConvTranspose2d(predictor.child("conv5_mask"), inChannels: inChannels, outChannels: predictorChannels,
                                   kernelSize: 2, stride: 2, initialization: .kaimingNormalFanOut, generator: &generator)
        logits = Conv2d(predictor.child("mask_fcn_logits"), inChannels: predictorChannels, outChannels: classCount,
                        kernelSize: 1, initialization: .kaimingNormalFanOut, generator: &generator)
    }

    /// `[P, 256, 14, 14]` → `[P, n_c, 28, 28]` logits.
    public func callAsFunction(_ pooled: Variable, _ context: ForwardContext) -> Variable {
        var x = pooled
        for convolution in convolutions { x = relu(convolution(x, context)) }
        return logits(relu(upsample(x, context)), context)
    }
}
