/// Spatial resampling of `[N, C, H, W]` tensors: nearest (FPN top-down path) and bilinear with
/// align_corners = False (image resizing and mask pasting), each with its backward pass.
public enum ResamplingKernels {
    /// PyTorch's legacy "nearest" source index: floor(dst · in/out), clamped; exact halving for 2×.
    @inlinable static func nearestSource(_ index: Int, input: Int, output: Int) -> Int {
        if output == 2 * input { return index >> 1 }
        let scale = Float(input) / Float(output)
        return min(Int((Float(index) * scale).rounded(.down)), input - 1)
    }

    /// Nearest-neighbour resize to `height × width`.
    public static func nearestForward(_ input: Tensor, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let rows = (0..<height).map { nearestSource($0, input: h, output: height) }
        let cols = (0..<width).map { nearestSource($0, input: w, output: width) }
        var output = Tensor(uninitializedShape: [n, c, height, width])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                parallelFor(n * c) { plane in
                    let source = x.baseAddress! + plane * h * w, target = y.baseAddress! + plane * height * width
                    for oy in 0..<height {
                        let row = source + rows[oy] * w
                        for ox in 0..<width { target[oy * width + ox] = row[cols[ox]] }
                    }
                }
            }
        }
        return output
    }

    /// Backward of `nearestForward`: each output gradient is added to its source pixel.
    public static func nearestBackward(_ outputGradient: Tensor, inputShape: [Int]) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (height, width) = (outputGradient.shape[2], outputGradient.shape[3])
        let rows = (0..<height).map { nearestSource($0, input: h, output: height) }
        let cols = (0..<width).map { nearestSource($0, input: w, output: width) }
        var inputGradient = Tensor(shape: inputShape)
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                parallelFor(n * c) { plane in
                    let source = dy.baseAddress! + plane * height * width, target = dx.baseAddress! + plane * h * w
                    for oy in 0..<height {
                        let row = target + rows[oy] * w
                        for ox in 0..<width { row[cols[ox]] += source[oy * width + ox] }
                    }
                }
            }
        }
        return inputGradient
    }

    /// Source taps along one axis for align_corners = False: src = (dst + ½)·in/out − ½, clamped at 0;
    /// lower index, upper index (clamped to in − 1) and the upper weight.
    public static func bilinearTaps(input: Int, output: Int) -> [(Int, Int, Float)] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { index in
            let source = max(0, (Float(index) + 0.5) * scale - 0.5)
            let lower = min(Int(source), input - 1)
            let upper = min(lower + 1, input - 1)
            return (lower, upper, source - Float(lower))
        }
    }

    /// Bilinear resize to `height × width`, align_corners = False (PyTorch `F.interpolate`).
    public static func bilinearForward(_ input: Tensor, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let rows = bilinearTaps(input: h, output: height), cols = bilinearTaps(input: w, output: width)
        var output = Tensor(uninitializedShape: [n, c, height, width])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                parallelFor(n * c) { plane in
                    let source = x.baseAddress! + plane * h * w, target = y.baseAddress! + plane * height * width
                    for oy in 0..<height {
                        let (y0, y1, ly) = rows[oy]
                        let top = source + y0 * w, bottom = source + y1 * w
                        for ox in 0..<width {
                            let (x0, x1, lx) = cols[ox]
                            target[oy * width + ox] = (1 - ly) * ((1 - lx) * top[x0] + lx * top[x1])
                                + ly * ((1 - lx) * bottom[x0] + lx * bottom[x1])
                        }
                    }
                }
            }
        }
        return output
    }

    /// Backward of `bilinearForward`: each output gradient is spread over its four taps.
    public static func bilinearBackward(_ outputGradient: Tensor, inputShape: [Int]) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (height, width) = (outputGradient.shape[2], outputGradient.shape[3])
        let rows = bilinearTaps(input: h, output: height), cols = bilinearTaps(input: w, output: width)
        var inputGradient = Tensor(shape: inputShape)
        outputGradient.withUnsafeBufferPointer { dy in
            inputGradient.withUnsafeMutableBufferPointer { dx in
                parallelFor(n * c) { plane in
                    let source = dy.baseAddress! + plane * height * width, target = dx.baseAddress! + plane * h * w
                    for oy in 0..<height {
                        let (y0, y1, ly) = rows[oy]
                        for ox in 0..<width {
                            let (x0, x1, lx) = cols[ox]
                            let g = source[oy * width + ox]
                            target[y0 * w + x0] += (1 - ly) * (1 - lx) * g
                            target[y0 * w + x1] += (1 - ly) * lx * g
                            target[y1 * w + x0] += ly * (1 - lx) * g
                            target[y1 * w + x1] += ly * lx * g
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}
