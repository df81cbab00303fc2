import TensorCore

/// Batch normalisation of x `[N, C, H, W]` with affine γ (`weight`) and β (`bias`), both `[C]`.
///
/// `.training` normalises with the batch statistics and, when `updateRunningStatistics`, moves the
/// running statistics by `momentum` — with the *unbiased* batch variance, as PyTorch does.
/// `.evaluation` normalises with the running statistics; gradients still reach x and, if they are
/// tracked, γ and β (the classifier's "frozen statistics, trainable affine" mode, spec §5.4).
/// `followedByReLU` returns relu(batch_norm(x)) as one op: one pass over memory each way instead of two.
public func batchNorm2d(_ x: Variable, weight: Variable, bias: Variable,
                        runningMean: inout Tensor, runningVariance: inout Tensor,
                        mode: BatchNormMode, updateRunningStatistics: Bool,
                        momentum: Float = 0.1, epsilon: Float = 1e-5, followedByReLU: Bool = false) -> Variable {
    precondition(x.value.rank == 4, "batch_norm2d expects [N,C,H,W], got \(x.shape)")
    let channels = x.shape[1]
    precondition(runningMean.shape == [channels] && runningVariance.shape == [channels],
                 "batch_norm2d: input \(x.shape) vs running stats \(runningMean.shape), \(runningVariance.shape)")
    let mean: [Float], variance: [Float]
    let batchStatistics: Bool
    switch mode {
    case .training:
        (mean, variance) = BatchNormKernels.statistics(x.value)
        batchStatistics = true
        if updateRunningStatistics {
            let count = Float(x.shape[0] * x.shape[2] * x.shape[3])
            let correction = count > 1 ? count / (count - 1) : 1
            runningMean.withUnsafeMutableBufferPointer { rm in
                runningVariance.withUnsafeMutableBufferPointer { rv in
                    for c in 0..<channels {
                        rm[c] = (1 - momentum) * rm[c] + momentum * mean[c]
                        rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * correction
                    }
                }
            }
        }
    case .evaluation:
        mean = runningMean.scalars
        variance = runningVariance.scalars
        batchStatistics = false
    }
    let output = BatchNormKernels.normalize(x.value, mean: mean, variance: variance,
                                            weight: weight.value, bias: bias.value, epsilon: epsilon,
                                            applyingReLU: followedByReLU)
    return Variable.result(output, inputs: [x, weight, bias]) { gradient in
        let grads = BatchNormKernels.backward(outputGradient: gradient, input: x.value, mean: mean, variance: variance,
                                              weight: weight.value, epsilon: epsilon,
                                              batchStatistics: batchStatistics, needsInput: x.requiresGradient,
                                              reluOutput: followedByReLU ? output : nil)
        return [grads.input, weight.requiresGradient ? grads.weight : nil, bias.requiresGradient ? grads.bias : nil]
    }
}
