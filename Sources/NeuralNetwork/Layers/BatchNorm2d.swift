import TensorCore

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
