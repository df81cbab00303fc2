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

/// A 2-D convolution layer with parameters `<scope>.weight` `[O, C, k, k]` and optional `<scope>.bias`.
public final class Conv2d {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int, padding: Int, dilation: Int

    public init(_ scope: ParameterScope, inChannels: Int, outChannels: Int, kernelSize: Int,
                stride: Int = 1, padding: Int = 0, dilation: Int = 1, bias hasBias: Bool = true,
                initialization: WeightInitialization = .pytorchDefault, generator: inout SeededGenerator) {
        let shape = [outChannels, inChannels, kernelSize, kernelSize]
        weight = scope.register("weight", initialization.weight(shape, &generator))
        bias = hasBias ? scope.register("bias", initialization.bias(outChannels, weightShape: shape, &generator)) : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation
    }

    /// x `[N, C, H, W]` → `[N, O, Ho, Wo]`.
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> Variable {
        conv2d(x, weight: context.variable(weight), bias: bias.map { context.variable($0) },
               stride: stride, padding: padding, dilation: dilation)
    }
}

/// A transposed convolution layer (no padding): weight `[Cin, Cout, k, k]`, bias `[Cout]`.
public final class ConvTranspose2d {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int

    public init(_ scope: ParameterScope, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int,
                bias hasBias: Bool = true, initialization: WeightInitialization = .pytorchDefault,
                generator: inout SeededGenerator) {
        let shape = [inChannels, outChannels, kernelSize, kernelSize]
        weight = scope.register("weight", initialization.weight(shape, &generator))
        bias = hasBias ? scope.register("bias", initialization.bias(outChannels, weightShape: shape, &generator)) : nil
        self.stride = stride
    }

    /// x `[N, Cin, H, W]` → `[N, Cout, (H−1)·s + k, (W−1)·s + k]`.
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> Variable {
        convTranspose2d(x, weight: context.variable(weight), bias: bias.map { context.variable($0) }, stride: stride)
    }
}

/// A fully connected layer: weight `[out, in]`, bias `[out]`.
public final class Linear {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ scope: ParameterScope, inFeatures: Int, outFeatures: Int, bias hasBias: Bool = true,
                initialization: WeightInitialization = .pytorchDefault, generator: inout SeededGenerator) {
        let shape = [outFeatures, inFeatures]
        weight = scope.register("weight", initialization.weight(shape, &generator))
        bias = hasBias ? scope.register("bias", initialization.bias(outFeatures, weightShape: shape, &generator)) : nil
    }

    /// x `[N, in]` → `[N, out]`.
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> Variable {
        linear(x, weight: context.variable(weight), bias: bias.map { context.variable($0) })
    }
}

/// BatchNorm2d with torchvision's parameter names: `weight`, `bias` (trainable), `running_mean`,
/// `running_var` (buffers) and the int64 `num_batches_tracked`. γ = 1, β = 0 at init.
public final class BatchNorm2d {
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVariance: Parameter
    let store: ParameterStore
    let batchCounterKey: String
    public let momentum: Float = 0.1
    public let epsilon: Float = 1e-5

    public init(_ scope: ParameterScope, channels: Int) {
        weight = scope.register("weight", Tensor.ones([channels]))
        bias = scope.register("bias", Tensor.zeros([channels]))
        runningMean = scope.register("running_mean", Tensor.zeros([channels]), trainable: false)
        runningVariance = scope.register("running_var", Tensor.ones([channels]), trainable: false)
        batchCounterKey = scope.key("num_batches_tracked")
        scope.store.registerInteger(batchCounterKey, 0)
        store = scope.store
    }

    /// x `[N, C, H, W]` → same shape; behaviour set by the context's BatchNorm mode.
    /// `followedByReLU` fuses the ReLU that follows (relu(bn(x)) in one op).
    public func callAsFunction(_ x: Variable, _ context: ForwardContext, followedByReLU: Bool = false) -> Variable {
        let update = context.batchNormMode == .training && context.updatesRunningStatistics
        if update { store.integerBuffers[batchCounterKey, default: 0] += 1 }
        return batchNorm2d(x, weight: context.variable(weight), bias: context.variable(bias),
                           runningMean: &runningMean.value, runningVariance: &runningVariance.value,
                           mode: context.batchNormMode, updateRunningStatistics: update,
                           momentum: momentum, epsilon: epsilon, followedByReLU: followedByReLU)
    }
}
