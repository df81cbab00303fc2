import Foundation
import TensorCore

/// Encodes boxes as (dx, dy, dw, dh) deltas relative to reference boxes and back (spec §3.3).
///
/// The RPN uses weights (1, 1, 1, 1) and the RoI heads (10, 10, 5, 5). Decoding clamps dw and dh at
/// `clampLimit` (log(1000/16)) so that `exp` cannot overflow. No "+1" anywhere. Both directions work on
/// plain tensors: in this model decoding is always applied to detached values and regression targets
/// are constants, so neither needs a gradient.
public struct BoxCoder: Sendable {
    /// (wx, wy, ww, wh).
    public let weights: (Float, Float, Float, Float)
    /// Upper clamp for the decoded dw and dh.
    public let clampLimit: Float

    /// A coder with the given weights; the clamp defaults to torchvision's `log(1000/16)`.
    public init(weights: (Float, Float, Float, Float), clampLimit: Float = Float(Foundation.log(1000.0 / 16.0))) {
        self.weights = weights
        self.clampLimit = clampLimit
    }

    /// Deltas `[N, 4]` of `reference` boxes `[N, 4]` (ground truth) relative to `proposals` `[N, 4]`
    /// (anchors or proposals): dx = wx·(gx − px)/pw, dy = wy·(gy − py)/ph, dw = ww·log(gw/pw),
    /// dh = wh·log(gh/ph). Zero-width or zero-height proposals give inf/NaN, as in the seed (harmless:
    /// they are never positives).
    public func encode(reference: Tensor, proposals: Tensor) -> Tensor {
        precondition(reference.rank == 2 && reference.shape[1] == 4 && proposals.shape == reference.shape,
                     "encode needs reference and proposals [N, 4] of equal shape, got \(reference.shape) and \(proposals.shape)")
        let n = reference.shape[0]
        let (wx, wy, ww, wh) = weights
        var result = Tensor(uninitializedShape: [n, 4])
        reference.withUnsafeBufferPointer { g in
            proposals.withUnsafeBufferPointer { p in
                result.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n {
                        let pw = p[4 * i + 2] - p[4 * i], ph = p[4 * i + 3] - p[4 * i + 1]
                        let px = p[4 * i] + 0.5 * pw, py = p[4 * i + 1] + 0.5 * ph
                        let gw = g[4 * i + 2] - g[4 * i], gh = g[4 * i + 3] - g[4 * i + 1]
                        let gx = g[4 * i] + 0.5 * gw, gy = g[4 * i + 1] + 0.5 * gh
                        out[4 * i] = wx * (gx - px) / pw
                        out[4 * i + 1] = wy * (gy - py) / ph
                        out[4 * i + 2] = ww * FixedMath.log(gw / pw)
                        out[4 * i + 3] = wh * FixedMath.log(gh / ph)
                    }
                }
            }
        }
        return result
    }

    /// Decodes `deltas` `[N, 4k]` (k box predictions per row, e.g. one per class, columns 4c..4c+3)
    /// against `boxes` `[N, 4]`, giving `[N, k, 4]` boxes `[cx − w/2, cy − h/2, cx + w/2, cy + h/2]`.
    public func decode(deltas: Tensor, boxes: Tensor) -> Tensor {
        precondition(deltas.rank == 2 && deltas.shape[1] % 4 == 0 && boxes.rank == 2 && boxes.shape[1] == 4
                     && boxes.shape[0] == deltas.shape[0],
                     "decode needs deltas [N, 4k] and boxes [N, 4], got \(deltas.shape) and \(boxes.shape)")
        let n = deltas.shape[0], k = deltas.shape[1] / 4
        let (wx, wy, ww, wh) = weights
        let limit = clampLimit
        var result = Tensor(uninitializedShape: [n, k, 4])
        deltas.withUnsafeBufferPointer { d in
            boxes.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n {
                        let width = b[4 * i + 2] - b[4 * i], height = b[4 * i + 3] - b[4 * i + 1]
                        let centreX = b[4 * i] + 0.5 * width, centreY = b[4 * i + 1] + 0.5 * height
                        for c in 0..<k {
                            let base = 4 * (i * k + c)
                            let dx = d[base] / wx, dy = d[base + 1] / wy
                            // torch.clamp(max:) keeps NaN; `min` would not, hence the comparison.
                            var dw = d[base + 2] / ww, dh = d[base + 3] / wh
                            if dw > limit { dw = limit }
                            if dh > limit { dh = limit }
                            let x = dx * width + centreX, y = dy * height + centreY
                            let w = FixedMath.exp(dw) * width, h = FixedMath.exp(dh) * height
                            out[base] = x - 0.5 * w
                            out[base + 1] = y - 0.5 * h
                            out[base + 2] = x + 0.5 * w
                            out[base + 3] = y + 0.5 * h
                        }
                    }
                }
            }
        }
        return result
    }
}
