import TensorCore

/// How a layer's weights start (spec §0.3, §2.1, §3.2, §4.5).
public enum WeightInitialization: Sendable {
    /// PyTorch's layer default: kaiming_uniform(a = √5) weight, U(±1/√fan_in) bias.
    case pytorchDefault
    /// ResNet and mask-head convs: kaiming_normal(fan_out, relu) weight; bias keeps the default uniform.
    case kaimingNormalFanOut
    /// FPN convs: kaiming_uniform(a = 1) weight, zero bias.
    case kaimingUniformUnitGain
    /// RPN head: N(0, std²) weight, zero bias.
    case normal(standardDeviation: Float)

    func weight(_ shape: [Int], _ generator: inout SeededGenerator) -> Tensor {
        switch self {
        case .pytorchDefault: return Initialization.defaultWeight(shape, using: &generator)
        case .kaimingNormalFanOut: return Initialization.kaimingNormalFanOut(shape, using: &generator)
        case .kaimingUniformUnitGain: return Initialization.kaimingUniform(shape, a: 1, using: &generator)
        case .normal(let std): return Initialization.normal(shape, standardDeviation: std, using: &generator)
        }
    }

    func bias(_ count: Int, weightShape: [Int], _ generator: inout SeededGenerator) -> Tensor {
        switch self {
        case .pytorchDefault, .kaimingNormalFanOut:
            return Initialization.defaultBias(count: count, weightShape: weightShape, using: &generator)
        case .kaimingUniformUnitGain, .normal:
            return Tensor(shape: [count])
        }
    }
}
