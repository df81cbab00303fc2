/// Batch normalisation over `[N, C, H, W]` per channel, forward and backward (spec §0.3: eps 1e-5,
/// momentum 0.1). Parallel over channels.
public enum BatchNormKernels {
    /// Per-channel mean and biased variance over N·H·W (accumulated in Double).
    public static func statistics(_ input: Tensor) -> (mean: [Float], variance: [Float]) {
        let (n, c) = (input.shape[0], input.shape[1])
        let plane = input.shape[2] * input.shape[3]
        var mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 0, count: c)
        input.withUnsafeBufferPointer { x in
            mean.withUnsafeMutableBufferPointer { m in
                variance.withUnsafeMutableBufferPointer { v in
                    parallelFor(c) { channel in
                        var sum = 0.0, sumSquares = 0.0
                        for image in 0..<n {
                            let base = x.baseAddress! + (image * c + channel) * plane
                            let (s, s2) = sumAndSquares(base, count: plane)
                            sum += Double(s); sumSquares += Double(s2)
                        }
                        let count = Double(n * plane)
                        let mu = sum / count
                        m[channel] = Float(mu)
                        v[channel] = Float(max(0, sumSquares / count - mu * mu))
                    }
                }
            }
        }
        return (mean, variance)
    }

    /// Σ x and Σ x² over `count` values, in sixteen interleaved partial sums: a single Float
    /// accumulator is one long dependency chain the compiler may not reorder (a quarter of the speed).
    @inline(__always)
    static func sumAndSquares(_ x: UnsafePointer<Float>, count: Int) -> (Float, Float) {
        var sum = SIMD16<Float>(), squares = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            sum += v; squares += v * v
            i += 16
        }
        var s = sum.sum(), s2 = squares.sum()
        while i < count { s += x[i]; s2 += x[i] * x[i]; i += 1 }
        return (s, s2)
    }

    /// Σ g and Σ g·(x − center) over `count` values, in sixteen interleaved partial sums; with `mask`,
    /// g counts only where mask > 0 (a fused ReLU's output).
    @inline(__always)
    static func sumAndCenteredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, center: Float,
                                  count: Int, mask: UnsafePointer<Float>? = nil) -> (Float, Float) {
        var sum = SIMD16<Float>(), dot = SIMD16<Float>()
        let mu = SIMD16<Float>(repeating: center)
        var i = 0
        while i + 16 <= count {
            var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            if let mask {
                gv.replace(with: 0, where: UnsafeRawPointer(mask + i).loadUnaligned(as: SIMD16<Float>.self) .<= 0)
            }
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            sum += gv; dot += gv * (xv - mu)
            i += 16
        }
        var s = sum.sum(), d = dot.sum()
        while i < count {
            let gi = mask.map { $0[i] > 0 ? g[i] : 0 } ?? g[i]
            s += gi; d += gi * (x[i] - center); i += 1
        }
        return (s, d)
    }

    /// y = (x − mean) / √(var + eps) · γ + β with the given per-channel statistics, or max(0, y) with
    /// `applyingReLU` (one pass over memory instead of two when a ReLU follows).
    public static func normalize(_ input: Tensor, mean: [Float], variance: [Float],
                                 weight: Tensor, bias: Tensor, epsilon: Float, applyingReLU: Bool = false) -> Tensor {
        let (n, c) = (input.shape[0], input.shape[1])
        precondition(weight.shape == [c] && bias.shape == [c],
                     "batch_norm: input \(input.shape) vs weight \(weight.shape), bias \(bias.shape)")
        let plane = input.shape[2] * input.shape[3]
        var output = Tensor(uninitializedShape: input.shape)
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { gamma in
                bias.withUnsafeBufferPointer { beta in
                    output.withUnsafeMutableBufferPointer { y in
                        parallelFor(n * c) { index in
                            let channel = index % c
                            let scale = gamma[channel] / (variance[channel] + epsilon).squareRoot()
                            let shift = beta[channel] - mean[channel] * scale
                            let source = x.baseAddress! + index * plane, target = y.baseAddress! + index * plane
                            if applyingReLU {
                                // Explicit vector selects: a scalar max or ternary compiles to a branch
                                // that mispredicts on half of the elements.
                                var i = 0
                                while i + 16 <= plane {
                                    let v = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD16<Float>.self) * scale + shift
                                    UnsafeMutableRawPointer(target + i).storeBytes(of: v.replacing(with: 0, where: v .< 0),
                                                                                   as: SIMD16<Float>.self)
                                    i += 16
                                }
                                while i < plane { let v = source[i] * scale + shift; target[i] = v < 0 ? 0 : v; i += 1 }
                            } else {
                                for i in 0..<plane { target[i] = source[i] * scale + shift }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Backward. With `batchStatistics` the statistics depend on the input (training mode) and the
    /// input gradient carries the two mean-correction terms:
    ///   dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂));
    /// otherwise (running statistics) dx = γ/σ · dy. In both cases dγ = Σ dy·x̂ and dβ = Σ dy.
    ///
    /// `reluOutput`, when given, is the output of a fused ReLU (`normalize(applyingReLU: true)`): dy is
    /// taken as zero wherever it is not positive, as ReLU's own backward would have made it.
    public static func backward(outputGradient: Tensor, input: Tensor, mean: [Float], variance: [Float],
                                weight: Tensor, epsilon: Float, batchStatistics: Bool, needsInput: Bool,
                                reluOutput: Tensor? = nil)
        -> (input: Tensor?, weight: Tensor, bias: Tensor) {
        if let reluOutput {
            precondition(reluOutput.shape == outputGradient.shape,
                         "batch_norm backward: ReLU output \(reluOutput.shape) vs gradient \(outputGradient.shape)")
        }
        let mask = reluOutput ?? Tensor(shape: [0])
        let masked = reluOutput != nil
        let (n, c) = (input.shape[0], input.shape[1])
        let plane = input.shape[2] * input.shape[3]
        var sumGradient = [Float](repeating: 0, count: c)       // Σ dy
        var sumGradientXHat = [Float](repeating: 0, count: c)   // Σ dy · x̂
        outputGradient.withUnsafeBufferPointer { dy in
          mask.withUnsafeBufferPointer { relu in
            input.withUnsafeBufferPointer { x in
                sumGradient.withUnsafeMutableBufferPointer { sg in
                    sumGradientXHat.withUnsafeMutableBufferPointer { sgx in
                        parallelFor(c) { channel in
                            let invStd = 1 / (variance[channel] + epsilon).squareRoot()
                            let mu = mean[channel]
                            var s = 0.0, sx = 0.0
                            for image in 0..<n {
                                let offset = (image * c + channel) * plane
                                let g = dy.baseAddress! + offset, xs = x.baseAddress! + offset
                                let (a, b) = sumAndCenteredDot(g, xs, center: mu, count: plane,
                                                               mask: masked ? relu.baseAddress! + offset : nil)
                                s += Double(a); sx += Double(b)
                            }
                            sg[channel] = Float(s)
                            sgx[channel] = Float(sx) * invStd
                        }
                    }
                }
            }
          }
        }
        let weightGradient = Tensor(shape: [c], scalars: sumGradientXHat)
        let biasGradient = Tensor(shape: [c], scalars: sumGradient)
        guard needsInput else { return (nil, weightGradient, biasGradient) }
        var inputGradient = Tensor(uninitializedShape: input.shape)
        let count = Float(n * plane)
        outputGradient.withUnsafeBufferPointer { dy in
          mask.withUnsafeBufferPointer { relu in
            input.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { gamma in
                    inputGradient.withUnsafeMutableBufferPointer { dx in
                        parallelFor(n * c) { index in
                            let channel = index % c
                            let invStd = 1 / (variance[channel] + epsilon).squareRoot()
                            let scale = gamma[channel] * invStd
                            let g = dy.baseAddress! + index * plane, xs = x.baseAddress! + index * plane
                            let target = dx.baseAddress! + index * plane
                            if masked {
                                // dy where the fused ReLU passed it, else 0, written first and then
                                // corrected in place below.
                                let y = relu.baseAddress! + index * plane
                                var i = 0
                                while i + 16 <= plane {
                                    let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
                                    let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
                                    UnsafeMutableRawPointer(target + i).storeBytes(of: gv.replacing(with: 0, where: yv .<= 0),
                                                                                   as: SIMD16<Float>.self)
                                    i += 16
                                }
                                while i < plane { target[i] = y[i] > 0 ? g[i] : 0; i += 1 }
                            }
                            let upstream = masked ? UnsafePointer(target) : g
                            if batchStatistics {
                                let meanGradient = sumGradient[channel] / count
                                let meanGradientXHat = sumGradientXHat[channel] / count
                                let mu = mean[channel]
                                for i in 0..<plane {
                                    let xHat = (xs[i] - mu) * invStd
                                    target[i] = scale * (upstream[i] - meanGradient - xHat * meanGradientXHat)
                                }
                            } else {
                                for i in 0..<plane { target[i] = scale * upstream[i] }
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
