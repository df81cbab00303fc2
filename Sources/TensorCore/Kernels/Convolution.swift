/// 2-D convolution (groups = 1) by im2col + SGEMM, and its backward pass.
///
/// Layouts: input `[N, C, H, W]`, weight `[O, C, kh, kw]`, output `[N, O, Ho, Wo]`, with
/// Ho = (H + 2·padding − dilation·(kh − 1) − 1) / stride + 1 (likewise Wo), as in PyTorch.
/// The column matrix of one image is `[C·kh·kw, Ho·Wo]`; the backward pass rebuilds it rather than
/// keeping it from the forward pass, trading a cheap memory-bound copy for a large saving in memory.
public struct Convolution2DGeometry: Equatable, Sendable {
    public let channels, height, width: Int
    public let outputChannels, kernelHeight, kernelWidth: Int
    public let stride, padding, dilation: Int

    public var outputHeight: Int { (height + 2 * padding - dilation * (kernelHeight - 1) - 1) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - dilation * (kernelWidth - 1) - 1) / stride + 1 }
    /// Rows of the column matrix: C·kh·kw.
    public var columnRows: Int { channels * kernelHeight * kernelWidth }
    /// Columns of the column matrix: Ho·Wo.
    public var columnCount: Int { outputHeight * outputWidth }
    /// A 1×1, stride-1, unpadded convolution needs no im2col: the image already is the column matrix.
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0
    }

    public init(input: [Int], weight: [Int], stride: Int, padding: Int, dilation: Int) {
        precondition(input.count == 4 && weight.count == 4,
                     "conv2d expects input [N,C,H,W] and weight [O,C,kh,kw], got \(input) and \(weight)")
        precondition(input[1] == weight[1], "conv2d: input \(input) has \(input[1]) channels, weight \(weight) expects \(weight[1])")
        channels = input[1]; height = input[2]; width = input[3]
        outputChannels = weight[0]; kernelHeight = weight[2]; kernelWidth = weight[3]
        self.stride = stride; self.padding = padding; self.dilation = dilation
        precondition(outputHeight > 0 && outputWidth > 0,
                     "conv2d: input \(input) is too small for weight \(weight) with padding \(padding)")
    }
}

public enum ConvolutionKernels {
    /// Multiply-add FLOPs (2 per MAC) performed by convolution GEMMs since the last reset; read by the
    /// benchmark to report achieved GFLOP/s. Updated from the calling thread only.
    nonisolated(unsafe) public static var performedFLOPs: Double = 0
    /// Writes the column matrix `[C·kh·kw, Ho·Wo]` of one image `[C, H, W]` (zeros where the window
    /// leaves the padded image). Parallel over the C·kh·kw rows.
    public static func im2col(_ image: UnsafePointer<Float>, _ g: Convolution2DGeometry,
                              into columns: UnsafeMutablePointer<Float>) {
        let (ho, wo) = (g.outputHeight, g.outputWidth)
        let kernelArea = g.kernelHeight * g.kernelWidth
        parallelChunks(g.columnRows, minimumChunk: max(1, 4096 / max(1, ho * wo))) { rows in
            for row in rows {
                let c = row / kernelArea
                let ky = (row / g.kernelWidth) % g.kernelHeight
                let kx = row % g.kernelWidth
                let plane = image + c * g.height * g.width
                let out = columns + row * ho * wo
                for oy in 0..<ho {
                    let iy = oy * g.stride - g.padding + ky * g.dilation
                    let outRow = out + oy * wo
                    if iy < 0 || iy >= g.height {
                        outRow.update(repeating: 0, count: wo)
                        continue
                    }
                    let inRow = plane + iy * g.width
                    let xOffset = kx * g.dilation - g.padding
                    if g.stride == 1 {
                        // Contiguous run: copy the valid span, zero the borders.
                        let first = max(0, -xOffset), last = min(wo, g.width - xOffset)
                        if first > 0 || last < wo { outRow.update(repeating: 0, count: wo) }
                        if last > first { (outRow + first).update(from: inRow + first + xOffset, count: last - first) }
                    } else {
                        for ox in 0..<wo {
                            let ix = ox * g.stride + xOffset
                            outRow[ox] = (ix >= 0 && ix < g.width) ? inRow[ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// Adds a column matrix back into an image gradient `[C, H, W]` (the adjoint of im2col).
    /// Parallel over channels, so no two threads write the same pixel.
    public static func col2im(_ columns: UnsafePointer<Float>, _ g: Convolution2DGeometry,
                              into image: UnsafeMutablePointer<Float>) {
        let (ho, wo) = (g.outputHeight, g.outputWidth)
        parallelFor(g.channels) { c in
            let plane = image + c * g.height * g.width
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    let row = (c * g.kernelHeight + ky) * g.kernelWidth + kx
                    let col = columns + row * ho * wo
                    let xOffset = kx * g.dilation - g.padding
                    for oy in 0..<ho {
                        let iy = oy * g.stride - g.padding + ky * g.dilation
                        if iy < 0 || iy >= g.height { continue }
                        let inRow = plane + iy * g.width
                        let colRow = col + oy * wo
                        if g.stride == 1 {
                            let first = max(0, -xOffset), last = min(wo, g.width - xOffset)
                            if last > first {
                                for ox in first..<last { inRow[ox + xOffset] += colRow[ox] }
                            }
                        } else {
                            for ox in 0..<wo {
                                let ix = ox * g.stride + xOffset
                                if ix >= 0 && ix < g.width { inRow[ix] += colRow[ox] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Forward: output `[N, O, Ho, Wo]` = weight ⊛ input (+ bias).
    public static func forward(input: Tensor, weight: Tensor, bias: Tensor?,
                               stride: Int, padding: Int, dilation: Int) -> Tensor {
        let g = Convolution2DGeometry(input: input.shape, weight: weight.shape,
                                      stride: stride, padding: padding, dilation: dilation)
        if let bias { precondition(bias.shape == [g.outputChannels], "conv2d: bias \(bias.shape) vs weight \(weight.shape)") }
        let n = input.shape[0]
        let (rows, cols) = (g.columnRows, g.columnCount)
        var output = Tensor(uninitializedShape: [n, g.outputChannels, g.outputHeight, g.outputWidth])
        var columns = Tensor(uninitializedShape: g.isPointwise ? [0] : [rows, cols])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    columns.withUnsafeMutableBufferPointer { col in
                        for image in 0..<n {
                            let xImage = x.baseAddress! + image * g.channels * g.height * g.width
                            let yImage = y.baseAddress! + image * g.outputChannels * cols
                            let source: UnsafePointer<Float>
                            if g.isPointwise {
                                source = xImage
                            } else {
                                im2col(xImage, g, into: col.baseAddress!)
                                source = UnsafePointer(col.baseAddress!)
                            }
                            if let bias {
                                bias.withUnsafeBufferPointer { b in
                                    for o in 0..<g.outputChannels {
                                        (yImage + o * cols).update(repeating: b[o], count: cols)
                                    }
                                }
                            }
                            performedFLOPs += 2 * Double(g.outputChannels) * Double(cols) * Double(rows)
                            BLAS.gemm(transposeA: false, transposeB: false, m: g.outputChannels, n: cols, k: rows,
                                      a: w.baseAddress!, lda: rows, b: source, ldb: cols,
                                      beta: bias == nil ? 0 : 1, c: yImage, ldc: cols)
                        }
                    }
                }
            }
        }
        return output
    }

    /// Backward: gradients of input, weight and bias from the output gradient.
    /// Each is computed only when requested, since frozen layers need only the input gradient.
    public static func backward(outputGradient: Tensor, input: Tensor, weight: Tensor,
                                stride: Int, padding: Int, dilation: Int,
                                needsInput: Bool, needsWeight: Bool, needsBias: Bool)
        -> (input: Tensor?, weight: Tensor?, bias: Tensor?) {
        let g = Convolution2DGeometry(input: input.shape, weight: weight.shape,
                                      stride: stride, padding: padding, dilation: dilation)
        precondition(outputGradient.shape == [input.shape[0], g.outputChannels, g.outputHeight, g.outputWidth],
                     "conv2d backward: output gradient \(outputGradient.shape) vs input \(input.shape), weight \(weight.shape)")
        let n = input.shape[0]
        let (rows, cols) = (g.columnRows, g.columnCount)
        var inputGradient = needsInput ? Tensor(shape: input.shape) : nil
        var weightGradient = needsWeight ? Tensor(shape: weight.shape) : nil
        var biasGradient: Tensor? = nil
        if needsBias {
            biasGradient = Tensor(shape: [g.outputChannels]) { b in
                outputGradient.withUnsafeBufferPointer { dy in
                    for image in 0..<n {
                        for o in 0..<g.outputChannels {
                            let base = dy.baseAddress! + (image * g.outputChannels + o) * cols
                            var s: Float = 0
                            for i in 0..<cols { s += base[i] }
                            b[o] += s
                        }
                    }
                }
            }
        }
        guard needsInput || needsWeight else { return (nil, nil, biasGradient) }
        var columns = Tensor(uninitializedShape: g.isPointwise && !needsInput ? [0] : [rows, cols])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                outputGradient.withUnsafeBufferPointer { dy in
                    columns.withUnsafeMutableBufferPointer { col in
                        for image in 0..<n {
                            let xImage = x.baseAddress! + image * g.channels * g.height * g.width
                            let dyImage = dy.baseAddress! + image * g.outputChannels * cols
                            if needsWeight {
                                // dW[O, CK] += dY[O, HoWo] · col[CK, HoWo]ᵀ
                                let source: UnsafePointer<Float>
                                if g.isPointwise {
                                    source = xImage
                                } else {
                                    im2col(xImage, g, into: col.baseAddress!)
                                    source = UnsafePointer(col.baseAddress!)
                                }
                                performedFLOPs += 2 * Double(g.outputChannels) * Double(cols) * Double(rows)
                                weightGradient!.withUnsafeMutableBufferPointer { dw in
                                    BLAS.gemm(transposeA: false, transposeB: true, m: g.outputChannels, n: rows, k: cols,
                                              a: dyImage, lda: cols, b: source, ldb: cols,
                                              beta: 1, c: dw.baseAddress!, ldc: rows)
                                }
                            }
                            if needsInput {
                                // dCol[CK, HoWo] = Wᵀ[CK, O] · dY[O, HoWo], then scatter back.
                                performedFLOPs += 2 * Double(g.outputChannels) * Double(cols) * Double(rows)
                                inputGradient!.withUnsafeMutableBufferPointer { dx in
                                    let dxImage = dx.baseAddress! + image * g.channels * g.height * g.width
                                    if g.isPointwise {
                                        BLAS.gemm(transposeA: true, transposeB: false, m: rows, n: cols, k: g.outputChannels,
                                                  a: w.baseAddress!, lda: rows, b: dyImage, ldb: cols,
                                                  beta: 0, c: dxImage, ldc: cols)
                                    } else {
                                        BLAS.gemm(transposeA: true, transposeB: false, m: rows, n: cols, k: g.outputChannels,
                                                  a: w.baseAddress!, lda: rows, b: dyImage, ldb: cols,
                                                  beta: 0, c: col.baseAddress!, ldc: cols)
                                        col2im(UnsafePointer(col.baseAddress!), g, into: dxImage)
                                    }
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
