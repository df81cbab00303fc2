/// Transposed 2-D convolution (no padding, groups = 1): the adjoint of `ConvolutionKernels`, used by the
/// mask predictor's 2×2 stride-2 upsampling (spec §4.5).
///
/// Layouts: input `[N, Cin, H, W]`, weight `[Cin, Cout, k, k]` (PyTorch's transposed layout),
/// output `[N, Cout, (H − 1)·stride + k, (W − 1)·stride + k]`.
/// Derivation: a transposed convolution is the input-gradient of the convolution whose input is our
/// output and whose weight is ours; so forward = GEMM + col2im and backward = im2col + GEMM.
public enum TransposedConvolutionKernels {
    /// The convolution this op is the adjoint of: its "input" is our output.
    static func adjointGeometry(input: [Int], weight: [Int], stride: Int) -> Convolution2DGeometry {
        precondition(input.count == 4 && weight.count == 4 && input[1] == weight[0],
                     "conv_transpose2d expects input [N,Cin,H,W] and weight [Cin,Cout,k,k], got \(input) and \(weight)")
        let outputHeight = (input[2] - 1) * stride + weight[2]
        let outputWidth = (input[3] - 1) * stride + weight[3]
        return Convolution2DGeometry(input: [input[0], weight[1], outputHeight, outputWidth], weight: weight,
                                     stride: stride, padding: 0, dilation: 1)
    }

    /// Output `[N, Cout, Ho, Wo]`.
    public static func forward(input: Tensor, weight: Tensor, bias: Tensor?, stride: Int) -> Tensor {
        let g = adjointGeometry(input: input.shape, weight: weight.shape, stride: stride)
        let n = input.shape[0]
        let (cin, cout) = (weight.shape[0], weight.shape[1])
        if let bias { precondition(bias.shape == [cout], "conv_transpose2d: bias \(bias.shape) vs weight \(weight.shape)") }
        let inputPlane = input.shape[2] * input.shape[3]
        let outputPlane = g.height * g.width
        var output = Tensor(shape: [n, cout, g.height, g.width])
        var columns = Tensor(uninitializedShape: [g.columnRows, g.columnCount])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    columns.withUnsafeMutableBufferPointer { col in
                        for image in 0..<n {
                            // col[Cout·k·k, H·W] = Wᵀ · x[Cin, H·W]
                            MatrixMultiply.gemm(transposeA: true, transposeB: false, m: g.columnRows, n: inputPlane, k: cin,
                                      a: w.baseAddress!, lda: g.columnRows, b: x.baseAddress! + image * cin * inputPlane,
                                      ldb: inputPlane, beta: 0, c: col.baseAddress!, ldc: inputPlane)
                            let yImage = y.baseAddress! + image * cout * outputPlane
                            ConvolutionKernels.col2im(UnsafePointer(col.baseAddress!), g, into: yImage)
                            if let bias {
                                bias.withUnsafeBufferPointer { b in
                                    for o in 0..<cout {
                                        let plane = yImage + o * outputPlane
                                        for i in 0..<outputPlane { plane[i] += b[o] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Gradients of input, weight and bias.
    public static func backward(outputGradient: Tensor, input: Tensor, weight: Tensor, stride: Int,
                                needsInput: Bool, needsWeight: Bool, needsBias: Bool)
        -> (input: Tensor?, weight: Tensor?, bias: Tensor?) {
        let g = adjointGeometry(input: input.shape, weight: weight.shape, stride: stride)
        let n = input.shape[0]
        let (cin, cout) = (weight.shape[0], weight.shape[1])
        precondition(outputGradient.shape == [n, cout, g.height, g.width],
                     "conv_transpose2d backward: output gradient \(outputGradient.shape) vs input \(input.shape), weight \(weight.shape)")
        let inputPlane = input.shape[2] * input.shape[3]
        let outputPlane = g.height * g.width
        var inputGradient = needsInput ? Tensor(shape: input.shape) : nil
        var weightGradient = needsWeight ? Tensor(shape: weight.shape) : nil
        var biasGradient: Tensor? = nil
        if needsBias {
            biasGradient = Tensor(shape: [cout]) { b in
                outputGradient.withUnsafeBufferPointer { dy in
                    for image in 0..<n {
                        for o in 0..<cout {
                            let plane = dy.baseAddress! + (image * cout + o) * outputPlane
                            var s: Float = 0
                            for i in 0..<outputPlane { s += plane[i] }
                            b[o] += s
                        }
                    }
                }
            }
        }
        guard needsInput || needsWeight else { return (nil, nil, biasGradient) }
        var columns = Tensor(uninitializedShape: [g.columnRows, g.columnCount])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                outputGradient.withUnsafeBufferPointer { dy in
                    columns.withUnsafeMutableBufferPointer { col in
                        for image in 0..<n {
                            ConvolutionKernels.im2col(dy.baseAddress! + image * cout * outputPlane, g, into: col.baseAddress!)
                            if needsInput {
                                // dx[Cin, H·W] = W[Cin, Cout·k·k] · col
                                inputGradient!.withUnsafeMutableBufferPointer { dx in
                                    MatrixMultiply.gemm(transposeA: false, transposeB: false, m: cin, n: inputPlane, k: g.columnRows,
                                              a: w.baseAddress!, lda: g.columnRows, b: col.baseAddress!, ldb: inputPlane,
                                              beta: 0, c: dx.baseAddress! + image * cin * inputPlane, ldc: inputPlane)
                                }
                            }
                            if needsWeight {
                                // dW[Cin, Cout·k·k] += x[Cin, H·W] · colᵀ
                                weightGradient!.withUnsafeMutableBufferPointer { dw in
                                    MatrixMultiply.gemm(transposeA: false, transposeB: true, m: cin, n: g.columnRows, k: inputPlane,
                                              a: x.baseAddress! + image * cin * inputPlane, lda: inputPlane,
                                              b: col.baseAddress!, ldb: inputPlane, beta: 1, c: dw.baseAddress!, ldc: g.columnRows)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (inputGradient, weightGradient, biasGradient)
    }
}
