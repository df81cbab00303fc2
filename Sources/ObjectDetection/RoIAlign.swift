import Foundation
import NeuralNetwork
import TensorCore

/// Legacy (non-aligned) RoIAlign of torchvision 0.3.0, forward and backward (spec §0.3).
///
/// Each output bin is the mean of `sr_h × sr_w` bilinear samples placed at the centres of the bin's
/// sub-cells. Box coordinates are scaled by `spatialScale` with no −½ offset, RoI sizes are clamped to
/// at least 1, and `samplingRatio ≤ 0` means adaptive: sr = ceil(roi size / output size).
///
/// Both passes first turn each RoI into a list of taps (plane offset, weight / count) per bin, the
/// same numbers the reference's `pre_calc` holds; forward is then a gather and backward a scatter.
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
    /// The arithmetic mirrors torchvision's `pre_calc_for_bilinear_interpolate` step by step in float32.
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
        let (fh, fw) = (Float(height), Float(width))

        // Sample positions along each axis are shared by all bins of a row or column.
        func axis(_ start: Float, _ bin: Float, _ grid: Int, _ bins: Int) -> [Float] {
            var values: [Float] = []
            values.reserveCapacity(bins * grid)
            for p in 0..<bins {
                for i in 0..<grid {
                    values.append(start + Float(p) * bin + (Float(i) + 0.5) * bin / Float(grid))
                }
            }
            return values
        }
        let ys = axis(roiStartH, binH, gridH, outputHeight), xs = axis(roiStartW, binW, gridW, outputWidth)

        var binStart: [Int] = [0]
        binStart.reserveCapacity(outputHeight * outputWidth + 1)
        var taps: [Tap] = []
        taps.reserveCapacity(outputHeight * outputWidth * gridH * gridW * 4)
        for ph in 0..<outputHeight {
            for pw in 0..<outputWidth {
                for iy in 0..<gridH {
                    var y = ys[ph * gridH + iy]
                    for ix in 0..<gridW {
                        var x = xs[pw * gridW + ix]
                        // Outside the map by more than one pixel: the sample is 0.
                        if y < -1 || y > fh || x < -1 || x > fw { continue }
                        if y <= 0 { y = 0 }
                        if x <= 0 { x = 0 }
                        var yLow = Int(y), xLow = Int(x), yHigh: Int, xHigh: Int
                        if yLow >= height - 1 { yLow = height - 1; yHigh = yLow; y = Float(yLow) } else { yHigh = yLow + 1 }
                        if xLow >= width - 1 { xLow = width - 1; xHigh = xLow; x = Float(xLow) } else { xHigh = xLow + 1 }
                        let ly = y - Float(yLow), lx = x - Float(xLow)
                        let hy = 1 - ly, hx = 1 - lx
                        taps.append(Tap(offset: Int32(yLow * width + xLow), weight: hy * hx / count))
                        taps.append(Tap(offset: Int32(yLow * width + xHigh), weight: hy * lx / count))
                        taps.append(Tap(offset: Int32(yHigh * width + xLow), weight: ly * hx / count))
                        taps.append(Tap(offset: Int32(yHigh * width + xHigh), weight: ly * lx / count))
                    }
                }
                binStart.append(taps.count)
            }
        }
        return RoITaps(binStart: binStart, taps: taps)
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

    /// Pools `features` `[N, C, H, W]` over `rois` `[R, 4]` (image coordinates, RoI r reads image
    /// `batchIndices[r]`) into `[R, C, outputHeight, outputWidth]`. Parallel over RoIs.
    public static func forward(features: Tensor, rois: Tensor, batchIndices: [Int], outputHeight: Int,
                               outputWidth: Int, spatialScale: Float, samplingRatio: Int) -> Tensor {
        checkArguments(featureShape: features.shape, rois: rois, batchIndices: batchIndices)
        let (c, h, w) = (features.shape[1], features.shape[2], features.shape[3])
        let r = rois.shape[0], bins = outputHeight * outputWidth
        var output = Tensor(uninitializedShape: [r, c, outputHeight, outputWidth])
        guard r > 0 else { return output }
        let boxes = rois.scalars
        features.withUnsafeBufferPointer { f in
            output.withUnsafeMutableBufferPointer { y in
                let f = f.baseAddress!, y = y.baseAddress!
                parallelChunks(r, minimumChunk: 1) { range in
                    for roi in range {
                        let roiTaps = taps(x1: boxes[4 * roi], y1: boxes[4 * roi + 1], x2: boxes[4 * roi + 2],
                                           y2: boxes[4 * roi + 3], height: h, width: w, outputHeight: outputHeight,
                                           outputWidth: outputWidth, spatialScale: spatialScale,
                                           samplingRatio: samplingRatio)
                        roiTaps.taps.withUnsafeBufferPointer { t in
                            roiTaps.binStart.withUnsafeBufferPointer { starts in
                                for channel in 0..<c {
                                    let plane = f + (batchIndices[roi] * c + channel) * h * w
                                    let target = y + (roi * c + channel) * bins
                                    for bin in 0..<bins {
                                        var sum: Float = 0
                                        for k in starts[bin]..<starts[bin + 1] {
                                            sum += t[k].weight * plane[Int(t[k].offset)]
                                        }
                                        target[bin] = sum
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

    /// Gradient `[N, C, H, W]` (shape `featureShape`) of `forward` with respect to the features, given
    /// `outputGradient` `[R, C, oh, ow]`. Each bin's gradient is spread over its taps; the work is split
    /// by channel, so threads write disjoint planes and need no atomics. Box coordinates get no gradient.
    public static func backward(outputGradient: Tensor, featureShape: [Int], rois: Tensor, batchIndices: [Int],
                                spatialScale: Float, samplingRatio: Int) -> Tensor {
        checkArguments(featureShape: featureShape, rois: rois, batchIndices: batchIndices)
        let (c, h, w) = (featureShape[1], featureShape[2], featureShape[3])
        let r = rois.shape[0]
        precondition(outputGradient.rank == 4 && outputGradient.shape[0] == r && outputGradient.shape[1] == c,
                     "RoIAlign backward needs a gradient [\(r), \(c), oh, ow], got \(outputGradient.shape)")
        let (outputHeight, outputWidth) = (outputGradient.shape[2], outputGradient.shape[3])
        let bins = outputHeight * outputWidth
        var gradient = Tensor(shape: featureShape)
        guard r > 0 else { return gradient }
        let roiTaps = allTaps(rois: rois, height: h, width: w, outputHeight: outputHeight, outputWidth: outputWidth,
                              spatialScale: spatialScale, samplingRatio: samplingRatio)
        outputGradient.withUnsafeBufferPointer { dy in
            gradient.withUnsafeMutableBufferPointer { dx in
                let dy = dy.baseAddress!, dx = dx.baseAddress!
                parallelChunks(c, minimumChunk: 1) { channels in
                    for roi in 0..<r {
                        roiTaps[roi].taps.withUnsafeBufferPointer { t in
                            roiTaps[roi].binStart.withUnsafeBufferPointer { starts in
                                for channel in channels {
                                    let plane = dx + (batchIndices[roi] * c + channel) * h * w
                                    let source = dy + (roi * c + channel) * bins
                                    for bin in 0..<bins {
                                        let g = source[bin]
                                        for k in starts[bin]..<starts[bin + 1] {
                                            plane[Int(t[k].offset)] += t[k].weight * g
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
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
