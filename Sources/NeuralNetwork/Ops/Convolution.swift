import TensorCore

/// 2-D convolution, groups = 1. x `[N, C, H, W]`, weight `[O, C, kh, kw]`, bias `[O]` → `[N, O, Ho, Wo]`.
public func conv2d(_ x: Variable, weight: Variable, bias: Variable?, stride: Int = 1, padding: Int = 0,
                   dilation: Int = 1) -> Variable {
    // When a gradient will be asked for (the variable is on a tape), the forward pass keeps what the
    // backward pass would otherwise recompute; the workspace goes with the tape.
    let workspace = x.requiresGradient || weight.requiresGradient
        ? ConvolutionWorkspace(forInputGradient: x.requiresGradient, forWeightGradient: weight.requiresGradient) : nil
    let output = ConvolutionKernels.forward(input: x.value, weight: weight.value, bias: bias?.value,
                                            stride: stride, padding: padding, dilation: dilation, workspace: workspace)
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return Variable.result(output, inputs: inputs) { gradient in
        let grads = ConvolutionKernels.backward(
            outputGradient: gradient, input: x.value, weight: weight.value,
            stride: stride, padding: padding, dilation: dilation,
            needsInput: x.requiresGradient, needsWeight: weight.requiresGradient,
            needsBias: bias?.requiresGradient ?? false, workspace: workspace)
        return [grads.input, grads.weight] + (bias == nil ? [] : [grads.bias])
    }
}

/// Transposed 2-D convolution without padding. x `[N, Cin, H, W]`, weight `[Cin, Cout, k, k]`,
/// bias `[Cout]` → `[N, Cout, (H−1)·stride + k, (W−1)·stride + k]`.
public func convTranspose2d(_ x: Variable, weight: Variable, bias: Variable?, stride: Int = 2) -> Variable {
    let output = TransposedConvolutionKernels.forward(input: x.value, weight: weight.value, bias: bias?.value,
                                                      stride: stride)
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return Variable.result(output, inputs: inputs) { gradient in
        let grads = TransposedConvolutionKernels.backward(
            outputGradient: gradient, input: x.value, weight: weight.value, stride: stride,
            needsInput: x.requiresGradient, needsWeight: weight.requiresGradient,
            needsBias: bias?.requiresGradient ?? false)
        return [grads.input, grads.weight] + (bias == nil ? [] : [grads.bias])
    }
}

/// Fully connected layer. x `[N, in]`, weight `[out, in]`, bias `[out]` → `[N, out]`.
public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
    precondition(x.value.rank == 2 && weight.value.rank == 2 && x.shape[1] == weight.shape[1],
                 "linear: input \(x.shape) vs weight \(weight.shape)")
    let (n, inFeatures, outFeatures) = (x.shape[0], x.shape[1], weight.shape[0])
    if let bias { precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) vs weight \(weight.shape)") }
    var output = Tensor(shape: [n, outFeatures])
    x.value.withUnsafeBufferPointer { a in
        weight.value.withUnsafeBufferPointer { w in
            output.withUnsafeMutableBufferPointer { y in
                if let bias {
                    bias.value.withUnsafeBufferPointer { b in
                        for row in 0..<n { (y.baseAddress! + row * outFeatures).update(from: b.baseAddress!, count: outFeatures) }
                    }
                }
                // y[N, out] = x[N, in] · Wᵀ
                MatrixMultiply.gemm(transposeA: false, transposeB: true, m: n, n: outFeatures, k: inFeatures,
                          a: a.baseAddress!, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                          beta: bias == nil ? 0 : 1, c: y.baseAddress!, ldc: outFeatures)
            }
        }
    }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return Variable.result(output, inputs: inputs) { gradient in
        var inputGradient: Tensor? = nil, weightGradient: Tensor? = nil, biasGradient: Tensor? = nil
        gradient.withUnsafeBufferPointer { dy in
            if x.requiresGradient {
                // dx[N, in] = dy[N, out] · W[out, in]
                inputGradient = Tensor(shape: x.shape) { dx in
                    weight.value.withUnsafeBufferPointer { w in
                        MatrixMultiply.gemm(transposeA: false, transposeB: false, m: n, n: inFeatures, k: outFeatures,
                                  a: dy.baseAddress!, lda: outFeatures, b: w.baseAddress!, ldb: inFeatures,
                                  c: dx.baseAddress!, ldc: inFeatures)
                    }
                }
            }
            if weight.requiresGradient {
                // dW[out, in] = dyᵀ · x
                weightGradient = Tensor(shape: weight.shape) { dw in
                    x.value.withUnsafeBufferPointer { a in
                        MatrixMultiply.gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: n,
                                  a: dy.baseAddress!, lda: outFeatures, b: a.baseAddress!, ldb: inFeatures,
                                  c: dw.baseAddress!, ldc: inFeatures)
                    }
                }
            }
            if bias?.requiresGradient == true {
                biasGradient = Tensor(shape: [outFeatures]) { db in
                    for row in 0..<n { for j in 0..<outFeatures { db[j] += dy[row * outFeatures + j] } }
                }
            }
        }
        return [inputGradient, weightGradient] + (bias == nil ? [] : [biasGradient])
    }
}
