import Foundation
import NeuralNetwork
import TensorCore

/// Legacy (non-aligned) RoIAlign of torchvision 0.3.0, forward and backward (spec §0.3).
///
/// Each output bin is the mean of `sr_h × sr_w` bilinear samples placed at the centres of the bin's
/// sub-cells. Box coordinates are scaled by `spatialScale` with no −½ offset, RoI sizes are clamped to
/// at least 1, and `samplingRatio ≤ 0` means adaptive: sr = ceil(roi size / output size).
///
/// Both passes first turn each RoI into a list of taps (plane offset, weight / count) per bin: the
/// reference's bilinear samples with the taps that hit the same pixel merged (see `axisWeights`);
/// forward is then a gather and backward a scatter.
public enum RoIAlignKernels {
    /// One bilinear tap: offset inside an `H × W` plane and its weight already divided by the bin's
    /// sample count.
    @usableFromInline struct Tap {
        @usableFromInline var offset: Int32
        @usableFromInline var weight: Float
    }

    /// Taps of one RoI: `bins + 1` start indices into `taps`, bin-major (y, then x).
    @usableFromInline struct RoITaps {
        @usableFromInline var binStart: [Int]
        @usableFromInline var taps: [Tap]
    }

    /// Builds the taps of one RoI `[x1, y1, x2, y2]` (image coordinates) on an `height × width` map.
    /// Sample positions mirror torchvision's `pre_calc_for_bilinear_interpolate` step by step in float32.
    static func taps(x1: Float, y1: Float, x2: Float, y2: Float, height: Int, width: Int, outputHeight: Int,
                     outputWidth: Int, spatialScale: Float, samplingRatio: Int) -> RoITaps {
        let roiStartW = x1 * spatialScale, roiStartH = y1 * spatialScale
        let roiEndW = x2 * spatialScale, roiEndH = y2 * spatialScale
        // Malformed RoIs are forced to be at least 1×1.
        let roiWidth = max(roiEndW - roiStartW, 1), roiHeight = max(roiEndH - roiStartH, 1)
        // A non-finite box (a diverged network) pools to zeros instead of trapping on Int(NaN).
        guard roiWidth.isFinite && roiHeight.isFinite && roiStartW.isFinite && roiStartH.isFinite else {
            return RoITaps(binStart: [Int](repeating: 0, count: outputHeight * outputWidth + 1), taps: [])
        }
        let binH = roiHeight / Float(outputHeight), binW = roiWidth / Float(outputWidth)
        let gridH = samplingRatio > 0 ? samplingRatio : Int((roiHeight / Float(outputHeight)).rounded(.up))
        let gridW = samplingRatio > 0 ? samplingRatio : Int((roiWidth / Float(outputWidth)).rounded(.up))
        let count = Float(max(gridH * gridW, 1))
        let yAxis = axisWeights(start: roiStartH, bin: binH, grid: gridH, bins: outputHeight, size: height)
        let xAxis = axisWeights(start: roiStartW, bin: binW, grid: gridW, bins: outputWidth, size: width)
        var binStart: [Int] = [0]
        binStart.reserveCapacity(outputHeight * outputWidth + 1)
        var taps: [Tap] = []
        taps.reserveCapacity(outputHeight * outputWidth * 9)
        for ph in 0..<outputHeight {
            for pw in 0..<outputWidth {
                for (row, rowWeight) in yAxis[ph] {
                    for (column, columnWeight) in xAxis[pw] {
                        taps.append(Tap(offset: Int32(row * width + column), weight: rowWeight * columnWeight / count))
                    }
                }
                binStart.append(taps.count)
            }
        }
        return RoITaps(binStart: binStart, taps: taps)
    }

    /// For each of `bins` bins along one axis: the pixel indices its `grid` samples touch, with the
    /// summed linear-interpolation weights (zero weights dropped).
    ///
    /// The reference's per-sample weights are products (hy·hx, hy·lx, ly·hx, ly·lx) and a sample is
    /// dropped when y or x is out of range, so the bin's sum over samples factorises into rows × columns:
    /// Σ_iy Σ_ix w_y(iy)·w_x(ix)·f = Σ_row Σ_col W_y(row)·W_x(col)·f. Merging the samples per axis this
    /// way turns 4·sr² taps into (typically) 2–3 × 2–3, with the same sample positions and clamping as
    /// `bilinear_interpolate` (positions in float32, same operation order).
    static func axisWeights(start: Float, bin: Float, grid: Int, bins: Int, size: Int) -> [[(Int, Float)]] {
        let limit = Float(size)
        return (0..<bins).map { p in
            var entries: [(Int, Float)] = []
            func add(_ index: Int, _ weight: Float) {
                guard weight != 0 else { return }
                if let k = entries.lastIndex(where: { $0.0 == index }) {
                    entries[k].1 += weight
                } else {
                    entries.append((index, weight))
                }
            }
            for i in 0..<grid {
                var v = start + Float(p) * bin + (Float(i) + 0.5) * bin / Float(grid)
                // More than one pixel outside the map: the whole sample is 0.
                if v < -1 || v > limit { continue }
                if v <= 0 { v = 0 }
                var low = Int(v), high: Int
                if low >= size - 1 { low = size - 1; high = low; v = Float(low) } else { high = low + 1 }
                let upper = v - Float(low)
                add(low, 1 - upper)
                add(high, upper)
            }
            return entries
        }
    }

    static func checkArguments(featureShape: [Int], rois: Tensor, batchIndices: [Int]) {
        precondition(featureShape.count == 4, "RoIAlign needs features [N, C, H, W], got \(featureShape)")
        precondition(rois.rank == 2 && rois.shape[1] == 4 && rois.shape[0] == batchIndices.count,
                     "RoIAlign needs rois [R, 4] and R batch indices, got \(rois.shape) and \(batchIndices.count)")
        precondition(batchIndices.allSatisfy { $0 >= 0 && $0 < featureShape[0] },
                     "RoIAlign batch indices must lie in 0..<\(featureShape[0])")
        precondition(featureShape[2] * featureShape[3] < Int(Int32.max), "feature plane too large for RoIAlign taps")
    }

    static func allTaps(rois: Tensor, height: Int, width: Int, outputHeight: Int, outputWidth: Int,
                        spatialScale: Float, samplingRatio: Int) -> [RoITaps] {
        let r = rois.shape[0]
        let boxes = rois.scalars
        var result = [RoITaps](repeating: RoITaps(binStart: [], taps: []), count: r)
        result.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            parallelChunks(r, minimumChunk: 16) { range in
                for i in range {
                    out[i] = taps(x1: boxes[4 * i], y1: boxes[4 * i + 1], x2: boxes[4 * i + 2], y2: boxes[4 * i + 3],
                                  height: height, width: width, outputHeight: outputHeight, outputWidth: outputWidth,
                                  spatialScale: spatialScale, samplingRatio: samplingRatio)
                }
            }
        }
        return result
    }

    /// y[0..<n] += a · x[0..<n], eight lanes at a time (the pointers may be unaligned).
    @inline(__always)
    static func axpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let scale = SIMD8<Float>(repeating: a)
        var i = 0
        while i + 8 <= n {
            let xs = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let ys = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: ys + scale * xs, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] += a * x[i]; i += 1 }
    }

    /// One output bin for all channels: Σ_taps weight · image[offset, :], channels-last. Blocks of 32
    /// channels stay in registers across the taps; the sum runs over taps in order for every channel.
    @inline(__always)
    static func gatherBin(_ taps: Slice<UnsafeBufferPointer<Tap>>, image: UnsafePointer<Float>, channels c: Int,
                          into target: UnsafeMutablePointer<Float>) {
        var low = 0
        while low + 32 <= c {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            for tap in taps {
                let weight = SIMD8<Float>(repeating: tap.weight)
                let source = UnsafeRawPointer(image + Int(tap.offset) * c + low)
                a0 += weight * source.loadUnaligned(as: SIMD8<Float>.self)
                a1 += weight * source.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                a2 += weight * source.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                a3 += weight * source.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
            }
            let out = UnsafeMutableRawPointer(target + low)
            out.storeBytes(of: a0, as: SIMD8<Float>.self)
            out.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
            out.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self)
            out.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
            low += 32
        }
        for channel in low..<c {
            var sum: Float = 0
            for tap in taps { sum += tap.weight * image[Int(tap.offset) * c + channel] }
            target[channel] = sum
        }
    }

    /// Pools `features` `[N, C, H, W]` over `rois` `[R, 4]` (image coordinates, RoI r reads image
    /// `batchIndices[r]`) into `[R, C, outputHeight, outputWidth]`. Parallel over RoIs.
    ///
    /// The features are first copied channels-last, so each tap adds a contiguous C-vector (the loop
    /// the compiler vectorises) instead of one scalar per channel; per channel the taps are summed in
    /// the same order as the scalar formulation.
    public static func forward(features: Tensor, rois: Tensor, batchIndices: [Int], outputHeight: Int,
                               outputWidth: Int, spatialScale: Float, samplingRatio: Int) -> Tensor {
        checkArguments(featureShape: features.shape, rois: rois, batchIndices: batchIndices)
        let (n, c, h, w) = (features.shape[0], features.shape[1], features.shape[2], features.shape[3])
        let r = rois.shape[0], bins = outputHeight * outputWidth, plane = h * w
        var output = Tensor(uninitializedShape: [r, c, outputHeight, outputWidth])
        guard r > 0 else { return output }
        let boxes = rois.scalars
        let last = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n * c * plane))
        defer { last.deallocate() }
        features.withUnsafeBufferPointer { TensorLayout.channelsLast($0.baseAddress!, n: n, c: c, plane: plane, into: last) }
        output.withUnsafeMutableBufferPointer { y in
            let y = y.baseAddress!
            parallelChunks(r, minimumChunk: 1) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: bins * c)
                defer { scratch.deallocate() }
                for roi in range {
                    let roiTaps = taps(x1: boxes[4 * roi], y1: boxes[4 * roi + 1], x2: boxes[4 * roi + 2],
                                       y2: boxes[4 * roi + 3], height: h, width: w, outputHeight: outputHeight,
                                       outputWidth: outputWidth, spatialScale: spatialScale,
                                       samplingRatio: samplingRatio)
                    let image = UnsafePointer(last + batchIndices[roi] * plane * c)
                    roiTaps.taps.withUnsafeBufferPointer { t in
                        for bin in 0..<bins {
                            gatherBin(t[roiTaps.binStart[bin]..<roiTaps.binStart[bin + 1]], image: image, channels: c,
                                      into: scratch + bin * c)
                        }
                    }
                    // [bins, C] → [C, bins] for this RoI.
                    let target = y + roi * c * bins
                    for channel in 0..<c {
                        for bin in 0..<bins { target[channel * bins + bin] = scratch[bin * c + channel] }
                    }
                }
            }
        }
        return output
    }

    /// Gradient `[N, C, H, W]` (shape `featureShape`) of `forward` with respect to the features, given
    /// `outputGradient` `[R, C, oh, ow]`. Each bin's gradient is spread over its taps, channels-last;
    /// the work is split by channel ranges, so threads write disjoint memory and need no atomics. Box
    /// coordinates get no gradient.
    public static func backward(outputGradient: Tensor, featureShape: [Int], rois: Tensor, batchIndices: [Int],
                                spatialScale: Float, samplingRatio: Int) -> Tensor {
        checkArguments(featureShape: featureShape, rois: rois, batchIndices: batchIndices)
        let (n, c, h, w) = (featureShape[0], featureShape[1], featureShape[2], featureShape[3])
        let r = rois.shape[0], plane = h * w
        precondition(outputGradient.rank == 4 && outputGradient.shape[0] == r && outputGradient.shape[1] == c,
                     "RoIAlign backward needs a gradient [\(r), \(c), oh, ow], got \(outputGradient.shape)")
        let (outputHeight, outputWidth) = (outputGradient.shape[2], outputGradient.shape[3])
        let bins = outputHeight * outputWidth
        var gradient = Tensor(uninitializedShape: featureShape)
        guard r > 0 else { return Tensor(shape: featureShape) }
        let roiTaps = allTaps(rois: rois, height: h, width: w, outputHeight: outputHeight, outputWidth: outputWidth,
                              spatialScale: spatialScale, samplingRatio: samplingRatio)
        // Upstream gradient per RoI as [bins, C]: TensorLayout.channelsLast with R "images", but parallel over
        // RoIs (a RoI's 49 bins are too few to split).
        let upstream = UnsafeMutablePointer<Float>.allocate(capacity: r * c * bins)
        defer { upstream.deallocate() }
        outputGradient.withUnsafeBufferPointer { dy in
            let dy = dy.baseAddress!
            parallelChunks(r, minimumChunk: 8) { range in
                for roi in range {
                    let s = dy + roi * c * bins, t = upstream + roi * c * bins
                    for bin in 0..<bins { for channel in 0..<c { t[bin * c + channel] = s[channel * bins + bin] } }
                }
            }
        }
        let last = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n * c * plane))
        defer { last.deallocate() }
        last.initialize(repeating: 0, count: n * c * plane)
        // Channel ranges in multiples of 16 floats (whole cache lines) so threads never share a line.
        let blocks = (c + 15) / 16
        parallelChunks(blocks, minimumChunk: 1) { blockRange in
            let low = blockRange.lowerBound * 16, high = min(c, blockRange.upperBound * 16)
            for roi in 0..<r {
                let image = last + batchIndices[roi] * plane * c
                roiTaps[roi].taps.withUnsafeBufferPointer { t in
                    for bin in 0..<bins {
                        let g = upstream + (roi * bins + bin) * c
                        for k in roiTaps[roi].binStart[bin]..<roiTaps[roi].binStart[bin + 1] {
                            axpy(high - low, t[k].weight, g + low, image + Int(t[k].offset) * c + low)
                        }
                    }
                }
            }
        }
        gradient.withUnsafeMutableBufferPointer {
            TensorLayout.channelsFirst(last, n: n, c: c, plane: plane, into: $0.baseAddress!)
        }
        return gradient
    }
}

/// Differentiable legacy RoIAlign: pools `features` `[N, C, H, W]` over `rois` `[R, 4]` (image
/// coordinates; RoI r reads image `batchIndices[r]`) into `[R, C, outputSize, outputSize]`.
/// The gradient flows to the features only, never to the box coordinates (proposals are detached).
public func roiAlign(_ features: Variable, rois: Tensor, batchIndices: [Int], outputSize: Int,
                     spatialScale: Float, samplingRatio: Int) -> Variable {
    let output = RoIAlignKernels.forward(features: features.value, rois: rois, batchIndices: batchIndices,
                                         outputHeight: outputSize, outputWidth: outputSize,
                                         spatialScale: spatialScale, samplingRatio: samplingRatio)
    let featureShape = features.shape
    return Variable.result(output, inputs: [features]) { gradient in
        [RoIAlignKernels.backward(outputGradient: gradient, featureShape: featureShape, rois: rois,
                                  batchIndices: batchIndices, spatialScale: spatialScale,
                                  samplingRatio: samplingRatio)]
    }
}
