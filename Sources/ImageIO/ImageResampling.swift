import Foundation

/// Image resizing with the two semantics the original pipeline uses.
public enum ImageResampling {
    /// Bilinear resize with PyTorch's `F.interpolate(mode="bilinear", align_corners=False)` semantics
    /// (spec §1.2): output pixel `d` samples source coordinate `(d + 0.5) · ratio − 0.5`, clamped below at 0,
    /// with the upper neighbour clamped to the last row/column. No antialiasing when shrinking.
    ///
    /// `ratio` defaults to `in/out` per axis, which is what torch 1.1 used; pass `1/scale_factor` to
    /// reproduce newer torch called with `scale_factor` and `recompute_scale_factor=False`.
    public static func bilinear(_ image: Image, width: Int, height: Int,
                                ratioX: Float? = nil, ratioY: Float? = nil) -> Image {
        precondition(width > 0 && height > 0, "bilinear resize to \(width)x\(height) needs a positive size")
        let rx = ratioX ?? Float(image.width) / Float(width)
        let ry = ratioY ?? Float(image.height) / Float(height)
        let xs = torchTaps(outputCount: width, inputCount: image.width, ratio: rx)
        let ys = torchTaps(outputCount: height, inputCount: image.height, ratio: ry)
        let c = image.channels, inWidth = image.width
        var out = [Float](repeating: 0, count: width * height * c)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<height {
                    let (y0, y1, wy1) = ys[oy]
                    let wy0 = 1 - wy1
                    for ox in 0..<width {
                        let (x0, x1, wx1) = xs[ox]
                        let wx0 = 1 - wx1
                        for ch in 0..<c {
                            let a = src[(y0 * inWidth + x0) * c + ch], b = src[(y0 * inWidth + x1) * c + ch]
                            let d = src[(y1 * inWidth + x0) * c + ch], e = src[(y1 * inWidth + x1) * c + ch]
                            dst[(oy * width + ox) * c + ch] = wy0 * (wx0 * a + wx1 * b) + wy1 * (wx0 * d + wx1 * e)
                        }
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: c, pixels: out)
    }

    /// (lower index, upper index, upper weight) per output position, as torch's `area_pixel_compute_source_index`.
    private static func torchTaps(outputCount: Int, inputCount: Int, ratio: Float) -> [(Int, Int, Float)] {
        (0..<outputCount).map { d in
            let source = max(ratio * (Float(d) + 0.5) - 0.5, 0)
            let lower = min(Int(source), inputCount - 1)
            let upper = lower < inputCount - 1 ? lower + 1 : lower
            return (lower, upper, source - Float(lower))
        }
    }

    /// Bilinear resize with PIL's `Image.resize(size, BILINEAR)` semantics, used by the original classification
    /// loader (spec §1.3): a triangle filter whose support widens by the shrink factor (antialiasing),
    /// pixel centres at `(d + 0.5) · in/out`, one separable pass per axis (order as `pilVerticalFirst`).
    ///
    /// PIL computes 8-bit images in 22-bit fixed point and rounds the intermediate to 8 bits; this float version
    /// does not, so it agrees with PIL within about one 8-bit step. Use `pilBilinear(bytes:...)` for PIL's exact
    /// 8-bit result.
    public static func pilBilinear(_ image: Image, width: Int, height: Int) -> Image {
        precondition(width > 0 && height > 0, "PIL bilinear resize to \(width)x\(height) needs a positive size")
        var current = image
        let verticalFirst = pilVerticalFirst(width: image.width, height: image.height, outputWidth: width, outputHeight: height)
        if verticalFirst && height != image.height { current = pilPass(current, outputCount: height, horizontal: false) }
        if width != image.width { current = pilPass(current, outputCount: width, horizontal: true) }
        if !verticalFirst && height != image.height { current = pilPass(current, outputCount: height, horizontal: false) }
        return current
    }

    /// The pass order of the installed Pillow (13), found by comparing both orders with its output over many
    /// shapes (the ImageIO fixtures include both orders): rows are resampled first exactly when the
    /// height shrinks while the width grows (the cheaper order); otherwise columns (horizontal pass) first, as
    /// in older Pillow. The order matters because the 8-bit intermediate is rounded. (The original ran Pillow 6.1,
    /// which always went horizontal first; the two differ by one 8-bit step on some pixels, and only when one
    /// axis shrinks while the other grows, never for the 512×512 slices of the paper.)
    private static func pilVerticalFirst(width: Int, height: Int, outputWidth: Int, outputHeight: Int) -> Bool {
        outputHeight < height && outputWidth > width
    }

    /// PIL's `Image.resize(size, BILINEAR)` on 8-bit samples, bit for bit: the same coefficients, converted to
    /// 22-bit fixed point, with the first pass rounded and clipped to 8 bits before the second
    /// (PIL's `ImagingResampleHorizontal_8bpc` / `Vertical_8bpc`). `bytes` are interleaved, `height × width × channels`.
    public static func pilBilinear(bytes: [UInt8], width: Int, height: Int, channels: Int,
                                   outputWidth: Int, outputHeight: Int) -> [UInt8] {
        precondition(bytes.count == width * height * channels,
                     "PIL resize of \(width)x\(height)x\(channels) needs \(width * height * channels) bytes, got \(bytes.count)")
        precondition(outputWidth > 0 && outputHeight > 0, "PIL resize to \(outputWidth)x\(outputHeight) needs a positive size")
        var current = bytes, currentWidth = width, currentHeight = height
        func horizontalPass() {
            guard outputWidth != width else { return }
            current = pilFixedPass(current, width: currentWidth, height: currentHeight, channels: channels,
                                   outputCount: outputWidth, horizontal: true)
            currentWidth = outputWidth
        }
        func verticalPass() {
            guard outputHeight != height else { return }
            current = pilFixedPass(current, width: currentWidth, height: currentHeight, channels: channels,
                                   outputCount: outputHeight, horizontal: false)
            currentHeight = outputHeight
        }
        if pilVerticalFirst(width: width, height: height, outputWidth: outputWidth, outputHeight: outputHeight) {
            verticalPass(); horizontalPass()
        } else {
            horizontalPass(); verticalPass()
        }
        return current
    }

    /// One 8-bit pass in PIL's fixed point (PRECISION_BITS = 32 − 8 − 2 = 22).
    private static func pilFixedPass(_ bytes: [UInt8], width: Int, height: Int, channels c: Int,
                                     outputCount: Int, horizontal: Bool) -> [UInt8] {
        let precisionBits = 22
        let inputCount = horizontal ? width : height
        let (starts, weights, taps) = pilCoefficients(inputCount: inputCount, outputCount: outputCount)
        // normalize_coeffs_8bpc: round half away from zero after scaling (C's (int) truncation of ±0.5-shifted values).
        let fixed: [Int32] = weights.map { w in
            let scaled = Double(w) * Double(1 << precisionBits)
            return Int32(scaled < 0 ? (scaled - 0.5).rounded(.towardZero) : (scaled + 0.5).rounded(.towardZero))
        }
        let outWidth = horizontal ? outputCount : width
        let outHeight = horizontal ? height : outputCount
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * c)
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                let o = horizontal ? ox : oy
                let (start, count) = starts[o]
                for ch in 0..<c {
                    var sum = Int64(1 << (precisionBits - 1))
                    for k in 0..<count {
                        let (sx, sy) = horizontal ? (start + k, oy) : (ox, start + k)
                        sum += Int64(bytes[(sy * width + sx) * c + ch]) * Int64(fixed[o * taps + k])
                    }
                    out[(oy * outWidth + ox) * c + ch] = UInt8(min(max(sum >> Int64(precisionBits), 0), 255))
                }
            }
        }
        return out
    }

    /// One separable pass of PIL's resampler along one axis.
    private static func pilPass(_ image: Image, outputCount: Int, horizontal: Bool) -> Image {
        let inputCount = horizontal ? image.width : image.height
        let (starts, weights, taps) = pilCoefficients(inputCount: inputCount, outputCount: outputCount)
        let c = image.channels
        let outWidth = horizontal ? outputCount : image.width
        let outHeight = horizontal ? image.height : outputCount
        var out = [Float](repeating: 0, count: outWidth * outHeight * c)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        let o = horizontal ? ox : oy
                        let (start, count) = starts[o]
                        for ch in 0..<c {
                            var sum: Float = 0
                            for k in 0..<count {
                                let (sx, sy) = horizontal ? (start + k, oy) : (ox, start + k)
                                sum += Float(weights[o * taps + k]) * src[(sy * image.width + sx) * c + ch]
                            }
                            dst[(oy * outWidth + ox) * c + ch] = min(max(sum, 0), 1)
                        }
                    }
                }
            }
        }
        return Image(width: outWidth, height: outHeight, channels: c, pixels: out)
    }

    /// PIL's `precompute_coeffs` for the bilinear (triangle, support 1) filter: per output position the first
    /// input index and tap count, and normalised weights laid out `taps` per position.
    private static func pilCoefficients(inputCount: Int, outputCount: Int) -> ([(Int, Int)], [Double], Int) {
        let scale = Double(inputCount) / Double(outputCount)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var starts: [(Int, Int)] = []
        var weights = [Double](repeating: 0, count: outputCount * taps)
        for o in 0..<outputCount {
            let centre = (Double(o) + 0.5) * scale
            // C's (int) truncates toward zero, as PIL relies on.
            let first = max(Int(centre - support + 0.5), 0)
            let count = min(Int(centre + support + 0.5), inputCount) - first
            var row = [Double](repeating: 0, count: count)
            var total = 0.0
            for k in 0..<count {
                let x = abs((Double(k + first) - centre + 0.5) / filterScale)
                row[k] = x < 1 ? 1 - x : 0
                total += row[k]
            }
            for k in 0..<count { weights[o * taps + k] = total == 0 ? 0 : row[k] / total }
            starts.append((first, count))
        }
        return (starts, weights, taps)
    }
}
