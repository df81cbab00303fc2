/// Max pooling (the ResNet stem's 3×3, stride 2, padding 1), forward with argmax indices and backward.
public enum MaxPoolKernels {
    /// Output `[N, C, Ho, Wo]` with Ho = (H + 2p − k)/s + 1, and for each output the flat index within
    /// its input plane of the maximum (first maximum in scan order on ties, as PyTorch's CPU kernel).
    /// Padding acts as −∞.
    public static func forward(_ input: Tensor, kernelSize: Int, stride: Int, padding: Int) -> (output: Tensor, indices: [Int32]) {
        precondition(input.rank == 4, "max_pool2d expects [N,C,H,W], got \(input.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let ho = (h + 2 * padding - kernelSize) / stride + 1
        let wo = (w + 2 * padding - kernelSize) / stride + 1
        var output = Tensor(uninitializedShape: [n, c, ho, wo])
        var indices = [Int32](repeating: 0, count: n * c * ho * wo)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                indices.withUnsafeMutableBufferPointer { idx in
                    parallelFor(n * c) { planeIndex in
                        let source = x.baseAddress! + planeIndex * h * w
                        let target = y.baseAddress! + planeIndex * ho * wo
                        let targetIndex = idx.baseAddress! + planeIndex * ho * wo
                        var nanCount = 0
                        for i in 0..<(h * w) where source[i] != source[i] { nanCount += 1 }
                        let planeHasNoNaN = nanCount == 0
                        // Output columns whose window lies wholly inside the row: no clipping needed there.
                        let innerFirst = min(wo, (padding + stride - 1) / stride)
                        let innerLast = w + padding < kernelSize
                            ? innerFirst : max(innerFirst, min(wo, (w + padding - kernelSize) / stride + 1))
                        for oy in 0..<ho {
                            let y0 = max(0, oy * stride - padding), y1 = min(h, oy * stride - padding + kernelSize)
                            let fast = planeHasNoNaN && kernelSize == 3 && y1 - y0 == 3
                            if fast {
                                // The stem's 3×3 window, unrolled, on a plane without NaN: plain `>` gives the
                                // same first-maximum rule and compiles to selects instead of branches that
                                // mispredict on random data.
                                let rows = source + y0 * w
                                for ox in innerFirst..<innerLast {
                                    let x0 = ox * stride - padding
                                    var best = -Float.infinity, bestIndex = y0 * w + x0
                                    for dy in 0..<3 {
                                        let row = rows + dy * w + x0
                                        let base = (y0 + dy) * w + x0
                                        let a = row[0], b = row[1], c = row[2]
                                        bestIndex = a > best ? base : bestIndex; best = a > best ? a : best
                                        bestIndex = b > best ? base + 1 : bestIndex; best = b > best ? b : best
                                        bestIndex = c > best ? base + 2 : bestIndex; best = c > best ? c : best
                                    }
                                    target[oy * wo + ox] = best
                                    targetIndex[oy * wo + ox] = Int32(bestIndex)
                                }
                            }
                            for ox in 0..<wo {
                                if fast && ox >= innerFirst && ox < innerLast { continue }
                                let x0 = max(0, ox * stride - padding), x1 = min(w, ox * stride - padding + kernelSize)
                                var best = -Float.infinity, bestIndex = y0 * w + x0
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 {
                                        let value = source[iy * w + ix]
                                        if value > best || value.isNaN { best = value; bestIndex = iy * w + ix }
                                    }
                                }
                                target[oy * wo + ox] = best
                                targetIndex[oy * wo + ox] = Int32(bestIndex)
                            }
                        }
                    }
                }
            }
        }
        return (output, indices)
    }

    /// Routes each output gradient to its argmax input (accumulating where windows overlap).
    public static func backward(outputGradient: Tensor, indices: [Int32], inputShape: [Int]) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let outputPlane = outputGradient.shape[2] * outputGradient.shape[3]
        var inputGradient = Tensor(shape: inputShape)
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                indices.withUnsafeBufferPointer { idx in
                    parallelFor(n * c) { planeIndex in
                        let source = dy.baseAddress! + planeIndex * outputPlane
                        let target = dx.baseAddress! + planeIndex * h * w
                        let sourceIndex = idx.baseAddress! + planeIndex * outputPlane
                        for i in 0..<outputPlane { target[Int(sourceIndex[i])] += source[i] }
                    }
                }
            }
        }
        return inputGradient
    }
}
