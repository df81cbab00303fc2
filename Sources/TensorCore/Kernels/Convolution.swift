import Synchronization

/// 2-D convolution (groups = 1) by im2col + SGEMM, and its backward pass. 3×3 stride-1 convolutions
/// (most of ResNet, the FPN, RPN and mask heads) go to `WinogradConvolution` instead, which needs a
/// quarter of the multiplications.
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
    /// Output columns `first..<last` whose input column `ox·stride + inputOffset` lies inside the image
    /// (inputOffset = kx·dilation − padding); im2col zero-fills the rest and col2im skips it.
    @inlinable
    public func validOutputColumns(inputOffset: Int) -> (first: Int, last: Int) {
        let wo = outputWidth
        let first = Swift.min(wo, Swift.max(0, (-inputOffset + stride - 1) / stride))
        let last = Swift.max(first, Swift.min(wo, (width - inputOffset + stride - 1) / stride))
        return (first, last)
    }

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

/// What a convolution's forward pass keeps for its backward pass: the Winograd transforms of the
/// weight (for the input gradient) and of the input (for the weight gradient), which the backward pass
/// would otherwise recompute. Made by whoever will run the backward pass, and dropped with it.
public final class ConvolutionWorkspace {
    let keepsWeightTransform, keepsInputTransform: Bool
    var winograd: WinogradConvolution.SavedTransforms?

    public init(forInputGradient: Bool, forWeightGradient: Bool) {
        keepsWeightTransform = forInputGradient
        keepsInputTransform = forWeightGradient
    }
}

public enum ConvolutionKernels {
    /// Multiply-add FLOPs (2 per MAC) performed by convolution GEMMs since the last reset; read by the
    /// benchmark to report achieved GFLOP/s. Atomic: concurrent stages (`run --jobs`) add to it at once.
    public static var performedFLOPs: Double {
        get { Double(flopCounter.load(ordering: .relaxed)) }
        set { flopCounter.store(UInt64(max(newValue, 0)), ordering: .relaxed) }
    }
    static let flopCounter = Atomic<UInt64>(0)

    /// Adds a GEMM's multiply-add FLOPs to `performedFLOPs`.
    static func count(flops: Double) { flopCounter.wrappingAdd(UInt64(flops), ordering: .relaxed) }

    /// Target bytes of one column-matrix block. The column matrix is built for a band of output rows at
    /// a time, so it stays in cache between im2col and the GEMM that reads it (each worker's half fits
    /// its 1 MiB L2) and is never allocated whole (a full matrix is up to 38 MiB for ResNet's layer1).
    /// Measured on R18-t1 (whole-run CPU time, alternating runs): 0.5 MiB 5.25 s, 1 MiB 4.9 s,
    /// 2 MiB 4.5–4.8 s, 8 MiB 4.8–5.05 s, 128 MiB 4.9–5.6 s. Tests lower it to exercise the banding.
    static let columnBlockBytes = Atomic<Int>(2 << 20)
    /// Bands keep at least this many output pixels, so that deep layers with few pixels and many
    /// input channels still make GEMM calls large enough to amortise OpenBLAS's packing of the weights.
    static let minimumBandColumns = Atomic<Int>(512)

    /// Calls `body` for each band of `rows` output rows (the last may be shorter) with the band's row range and
    /// its column count (rows · Wo): the loop the forward pass and both gradients share.
    static func forEachBand(_ g: Convolution2DGeometry, rows: Int, _ body: (_ outputRows: Range<Int>, _ width: Int) -> Void) {
        for top in Swift.stride(from: 0, to: g.outputHeight, by: rows) {
            let outputRows = top..<min(g.outputHeight, top + rows)
            body(outputRows, outputRows.count * g.outputWidth)
        }
    }

    /// Output rows per band: as many as fit in `columnBlockBytes`, at least `minimumBandColumns` pixels.
    static func bandRows(_ g: Convolution2DGeometry) -> Int {
        let rowBytes = g.columnRows * g.outputWidth * MemoryLayout<Float>.size
        let byBytes = columnBlockBytes.load(ordering: .relaxed) / max(1, rowBytes)
        let byColumns = (minimumBandColumns.load(ordering: .relaxed) + g.outputWidth - 1) / g.outputWidth
        return max(1, min(g.outputHeight, max(byBytes, byColumns)))
    }

    /// Writes the column matrix `[C·kh·kw, Ho·Wo]` of one image `[C, H, W]` (zeros where the window
    /// leaves the padded image). Parallel over the C·kh·kw rows.
    public static func im2col(_ image: UnsafePointer<Float>, _ g: Convolution2DGeometry,
                              into columns: UnsafeMutablePointer<Float>) {
        im2col(image, g, outputRows: 0..<g.outputHeight, into: columns)
    }

    /// The band of the column matrix for output rows `outputRows`: `[C·kh·kw, rows·Wo]`.
    static func im2col(_ image: UnsafePointer<Float>, _ g: Convolution2DGeometry, outputRows: Range<Int>,
                       into columns: UnsafeMutablePointer<Float>) {
        let wo = g.outputWidth
        let bandColumns = outputRows.count * wo
        let kernelArea = g.kernelHeight * g.kernelWidth
        parallelChunks(g.columnRows, minimumChunk: max(1, 4096 / max(1, bandColumns))) { rows in
            for row in rows {
                let c = row / kernelArea
                let ky = (row / g.kernelWidth) % g.kernelHeight
                let kx = row % g.kernelWidth
                let plane = image + c * g.height * g.width
                let out = columns + row * bandColumns
                let xOffset = kx * g.dilation - g.padding
                let (first, last) = g.validOutputColumns(inputOffset: xOffset)
                for oy in outputRows {
                    let iy = oy * g.stride - g.padding + ky * g.dilation
                    let outRow = out + (oy - outputRows.lowerBound) * wo
                    if iy < 0 || iy >= g.height {
                        outRow.update(repeating: 0, count: wo)
                        continue
                    }
                    let inRow = plane + iy * g.width + xOffset
                    if first > 0 { outRow.update(repeating: 0, count: first) }
                    if last < wo { (outRow + last).update(repeating: 0, count: wo - last) }
                    if g.stride == 1 {
                        if last > first { (outRow + first).update(from: inRow + first, count: last - first) }
                    } else if g.stride == 2 {
                        // Every other input column: eight at a time as the even lanes of sixteen (the
                        // ResNet stem and the stride-2 3×3 convolutions; a scalar strided copy was a fifth
                        // of the stem's forward pass).
                        var ox = first
                        while ox + 8 <= last && 2 * ox + 16 <= g.width - xOffset {
                            let pair = UnsafeRawPointer(inRow + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(outRow + ox).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
                            ox += 8
                        }
                        while ox < last { outRow[ox] = inRow[2 * ox]; ox += 1 }
                    } else {
                        let step = g.stride
                        for ox in first..<last { outRow[ox] = inRow[ox * step] }
                    }
                }
            }
        }
    }

    /// Adds a column matrix back into an image gradient `[C, H, W]` (the adjoint of im2col).
    /// Parallel over channels, so no two threads write the same pixel.
    public static func col2im(_ columns: UnsafePointer<Float>, _ g: Convolution2DGeometry,
                              into image: UnsafeMutablePointer<Float>) {
        col2im(columns, g, outputRows: 0..<g.outputHeight, into: image)
    }

    /// Adds the band of the column matrix for output rows `outputRows` (`[C·kh·kw, rows·Wo]`) back into
    /// an image gradient `[C, H, W]`.
    static func col2im(_ columns: UnsafePointer<Float>, _ g: Convolution2DGeometry, outputRows: Range<Int>,
                       into image: UnsafeMutablePointer<Float>) {
        let wo = g.outputWidth
        let bandColumns = outputRows.count * wo
        parallelFor(g.channels) { c in
            let plane = image + c * g.height * g.width
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth {
                    let row = (c * g.kernelHeight + ky) * g.kernelWidth + kx
                    let col = columns + row * bandColumns
                    let xOffset = kx * g.dilation - g.padding
                    let (first, last) = g.validOutputColumns(inputOffset: xOffset)
                    for oy in outputRows {
                        let iy = oy * g.stride - g.padding + ky * g.dilation
                        if iy < 0 || iy >= g.height { continue }
                        let inRow = plane + iy * g.width + xOffset
                        let colRow = col + (oy - outputRows.lowerBound) * wo
                        if g.stride == 1 {
                            for ox in first..<last { inRow[ox] += colRow[ox] }
                        } else {
                            let step = g.stride
                            for ox in first..<last { inRow[ox * step] += colRow[ox] }
                        }
                    }
                }
            }
        }
    }

    /// For a stride-1 convolution with a square kernel, the input gradient is the convolution of the
    /// output gradient with the kernel flipped in space and with input and output channels swapped
    /// (`[C, O, kh, kw]`), padded by dilation·(k − 1) − padding; nil where that does not apply (stride > 1,
    /// 1×1, or padding beyond the kernel's reach).
    static func transposedForInputGradient(_ weight: Tensor, _ g: Convolution2DGeometry)
        -> (weight: Tensor, padding: Int)? {
        let k = g.kernelHeight
        guard g.stride == 1, k == g.kernelWidth, k > 1, g.padding <= g.dilation * (k - 1) else { return nil }
        let (o, c) = (g.outputChannels, g.channels)
        var flipped = Tensor(uninitializedShape: [c, o, k, k])
        weight.withUnsafeBufferPointer { w in
            flipped.withUnsafeMutableBufferPointer { t in
                for oc in 0..<o {
                    for cc in 0..<c {
                        let source = w.baseAddress! + (oc * c + cc) * k * k
                        let target = t.baseAddress! + (cc * o + oc) * k * k
                        for i in 0..<(k * k) { target[i] = source[k * k - 1 - i] }
                    }
                }
            }
        }
        return (flipped, g.dilation * (k - 1) - g.padding)
    }

    /// Forward: output `[N, O, Ho, Wo]` = weight ⊛ input (+ bias).
    /// `workspace`, when given, receives what the backward pass can reuse.
    public static func forward(input: Tensor, weight: Tensor, bias: Tensor?,
                               stride: Int, padding: Int, dilation: Int,
                               workspace: ConvolutionWorkspace? = nil) -> Tensor {
        let g = Convolution2DGeometry(input: input.shape, weight: weight.shape,
                                      stride: stride, padding: padding, dilation: dilation)
        if let bias { precondition(bias.shape == [g.outputChannels], "conv2d: bias \(bias.shape) vs weight \(weight.shape)") }
        let n = input.shape[0]
        let (rows, cols, wo) = (g.columnRows, g.columnCount, g.outputWidth)
        if WinogradConvolution.applies(g) {
            // Counted as the direct convolution's FLOPs, so achieved GFLOP/s compare across algorithms.
            count(flops: 2 * Double(n) * Double(g.outputChannels) * Double(cols) * Double(rows))
            let (output, saved) = WinogradConvolution.forward(
                input: input, weight: weight, bias: bias, g,
                keepWeight: workspace?.keepsWeightTransform ?? false, keepInput: workspace?.keepsInputTransform ?? false)
            workspace?.winograd = saved
            return output
        }
        let band = bandRows(g)
        var output = Tensor(uninitializedShape: [n, g.outputChannels, g.outputHeight, g.outputWidth])
        var columns = Tensor(uninitializedShape: g.isPointwise ? [0] : [rows, band * wo])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    columns.withUnsafeMutableBufferPointer { col in
                        for image in 0..<n {
                            let xImage = x.baseAddress! + image * g.channels * g.height * g.width
                            let yImage = y.baseAddress! + image * g.outputChannels * cols
                            if let bias {
                                bias.withUnsafeBufferPointer { b in
                                    for o in 0..<g.outputChannels {
                                        (yImage + o * cols).update(repeating: b[o], count: cols)
                                    }
                                }
                            }
                            count(flops: 2 * Double(g.outputChannels) * Double(cols) * Double(rows))
                            if g.isPointwise {
                                MatrixMultiply.gemm(transposeA: false, transposeB: false, m: g.outputChannels, n: cols, k: rows,
                                          a: w.baseAddress!, lda: rows, b: xImage, ldb: cols,
                                          beta: bias == nil ? 0 : 1, c: yImage, ldc: cols)
                                continue
                            }
                            // Y[:, band] = W[O, CK] · col_band[CK, band columns]
                            forEachBand(g, rows: band) { bandRange, width in
                                im2col(xImage, g, outputRows: bandRange, into: col.baseAddress!)
                                MatrixMultiply.gemm(transposeA: false, transposeB: false, m: g.outputChannels, n: width, k: rows,
                                          a: w.baseAddress!, lda: rows, b: col.baseAddress!, ldb: width,
                                          beta: bias == nil ? 0 : 1, c: yImage + bandRange.lowerBound * wo, ldc: cols)
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Backward: gradients of input, weight and bias from the output gradient, the forward pass in reverse:
    /// Y = W · col(X) (+ b) gives dW = dY · col(X)ᵀ, dX = col⁻¹(Wᵀ · dY) and db = Σ dY. Each is computed only
    /// when requested, since frozen layers need only the input gradient. `workspace` is the one the forward
    /// pass filled, if any.
    public static func backward(outputGradient: Tensor, input: Tensor, weight: Tensor,
                                stride: Int, padding: Int, dilation: Int,
                                needsInput: Bool, needsWeight: Bool, needsBias: Bool,
                                workspace: ConvolutionWorkspace? = nil)
        -> (input: Tensor?, weight: Tensor?, bias: Tensor?) {
        let g = Convolution2DGeometry(input: input.shape, weight: weight.shape,
                                      stride: stride, padding: padding, dilation: dilation)
        precondition(outputGradient.shape == [input.shape[0], g.outputChannels, g.outputHeight, g.outputWidth],
                     "conv2d backward: output gradient \(outputGradient.shape) vs input \(input.shape), weight \(weight.shape)")
        let biasGradient = needsBias ? self.biasGradient(outputGradient, g) : nil
        if WinogradConvolution.applies(g) && (needsInput || needsWeight) {
            let flops = 2 * Double(input.shape[0]) * Double(g.outputChannels) * Double(g.columnCount) * Double(g.columnRows)
            count(flops: (needsInput ? flops : 0) + (needsWeight ? flops : 0))
            let gradients = WinogradConvolution.backward(
                outputGradient: outputGradient, input: input, weight: weight, g, saved: workspace?.winograd,
                needsInput: needsInput, needsWeight: needsWeight)
            return (gradients.input, gradients.weight, biasGradient)
        }
        return (needsInput ? inputGradient(outputGradient, weight: weight, g) : nil,
                needsWeight ? weightGradient(outputGradient, input: input, weightShape: weight.shape, g) : nil,
                biasGradient)
    }

    /// db[o] = Σ over images and pixels of dY[·, o].
    static func biasGradient(_ outputGradient: Tensor, _ g: Convolution2DGeometry) -> Tensor {
        let (n, cols) = (outputGradient.shape[0], g.columnCount)
        return Tensor(shape: [g.outputChannels]) { b in
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

    /// dW[O, CK] = Σ over images and bands of dY[O, band] · col_band[CK, band]ᵀ (pointwise: dY[O, HW] · X[C, HW]ᵀ),
    /// accumulated image by image, band by band.
    static func weightGradient(_ outputGradient: Tensor, input: Tensor, weightShape: [Int],
                               _ g: Convolution2DGeometry) -> Tensor {
        let n = input.shape[0]
        let (rows, cols, wo) = (g.columnRows, g.columnCount, g.outputWidth)
        let band = bandRows(g)
        let weightGradient = Tensor(shape: weightShape)
        let columns = Tensor(uninitializedShape: g.isPointwise ? [0] : [rows, band * wo])
        withExtendedLifetime((outputGradient, input, weightGradient, columns)) {
            let (dw, col) = (weightGradient.kernelAddress, columns.kernelAddress)
            for image in 0..<n {
                let xImage = UnsafePointer(input.kernelAddress) + image * g.channels * g.height * g.width
                let dyImage = UnsafePointer(outputGradient.kernelAddress) + image * g.outputChannels * cols
                count(flops: 2 * Double(g.outputChannels) * Double(cols) * Double(rows))
                if g.isPointwise {
                    MatrixMultiply.gemm(transposeA: false, transposeB: true, m: g.outputChannels, n: rows, k: cols,
                                        a: dyImage, lda: cols, b: xImage, ldb: cols, beta: 1, c: dw, ldc: rows)
                    continue
                }
                forEachBand(g, rows: band) { bandRange, width in
                    im2col(xImage, g, outputRows: bandRange, into: col)
                    MatrixMultiply.gemm(transposeA: false, transposeB: true, m: g.outputChannels, n: rows, k: width,
                                        a: dyImage + bandRange.lowerBound * wo, lda: cols, b: col, ldb: width, beta: 1, c: dw, ldc: rows)
                }
            }
        }
        return weightGradient
    }

    /// dX = col⁻¹(Wᵀ[CK, O] · dY[O, band]) band by band (pointwise: Wᵀ[C, O] · dY[O, HW]); when dX is itself a
    /// stride-1 convolution of dY, that convolution instead (one GEMM with K = O·kh·kw per band rather than
    /// K = O followed by a col2im scatter: the small-K product ran at about half the speed).
    static func inputGradient(_ outputGradient: Tensor, weight: Tensor, _ g: Convolution2DGeometry) -> Tensor {
        if let transposed = transposedForInputGradient(weight, g) {
            return forward(input: outputGradient, weight: transposed.weight, bias: nil,
                           stride: 1, padding: transposed.padding, dilation: g.dilation)
        }
        let n = outputGradient.shape[0]
        let (rows, cols, wo) = (g.columnRows, g.columnCount, g.outputWidth)
        let band = bandRows(g)
        let inputGradient = Tensor(shape: [n, g.channels, g.height, g.width])
        let columns = Tensor(uninitializedShape: g.isPointwise ? [0] : [rows, band * wo])
        withExtendedLifetime((outputGradient, weight, inputGradient, columns)) {
            let (w, col) = (UnsafePointer(weight.kernelAddress), columns.kernelAddress)
            for image in 0..<n {
                let dyImage = UnsafePointer(outputGradient.kernelAddress) + image * g.outputChannels * cols
                let dxImage = inputGradient.kernelAddress + image * g.channels * g.height * g.width
                count(flops: 2 * Double(g.outputChannels) * Double(cols) * Double(rows))
                if g.isPointwise {
                    MatrixMultiply.gemm(transposeA: true, transposeB: false, m: rows, n: cols, k: g.outputChannels,
                                        a: w, lda: rows, b: dyImage, ldb: cols, beta: 0, c: dxImage, ldc: cols)
                    continue
                }
                forEachBand(g, rows: band) { bandRange, width in
                    MatrixMultiply.gemm(transposeA: true, transposeB: false, m: rows, n: width, k: g.outputChannels,
                                        a: w, lda: rows, b: dyImage + bandRange.lowerBound * wo, ldb: cols, beta: 0, c: col, ldc: width)
                    col2im(UnsafePointer(col), g, outputRows: bandRange, into: dxImage)
                }
            }
        }
        return inputGradient
    }
}
