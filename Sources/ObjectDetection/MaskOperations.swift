import Foundation
import TensorCore

/// Mask pasting for inference and mask targets for training (spec §4.5 and §4.6).
public enum MaskOperations {
    /// Pastes each `M × M` mask of `masks` `[N, M, M]` (logits) into a zero `imageHeight × imageWidth`
    /// canvas at its box of `boxes` `[N, 4]`, giving `[N, H, W]` (spec §4.6, torchvision 0.3.0
    /// `paste_masks_in_image`, unchanged in 0.29):
    /// 1. zero-pad the mask by `padding` on each side to M + 2·padding;
    /// 2. enlarge the box about its centre by (M + 2·padding)/M (float32);
    /// 3. truncate the enlarged box to integers (toward zero);
    /// 4. bilinear-resize (align_corners = False) to h = y2 − y1 + 1 by w = x2 − x1 + 1 (each ≥ 1);
    /// 5. write rows y1…y2 and columns x1…x2, clipped to the image.
    /// The padded border makes the pasted logits fall off towards 0 (the background logit) at the edge.
    public static func pasteMasksInImage(_ masks: Tensor, boxes: Tensor, imageHeight: Int, imageWidth: Int,
                                         padding: Int = 1) -> Tensor {
        precondition(masks.rank == 3 && masks.shape[1] == masks.shape[2] && boxes.rank == 2 && boxes.shape[1] == 4
                     && boxes.shape[0] == masks.shape[0],
                     "pasteMasksInImage needs masks [N, M, M] and boxes [N, 4], got \(masks.shape) and \(boxes.shape)")
        let n = masks.shape[0], m = masks.shape[1], padded = m + 2 * padding
        let scale = Float(Double(padded) / Double(m))
        var result = Tensor(shape: [n, imageHeight, imageWidth])
        guard n > 0 else { return result }
        let boxValues = boxes.scalars
        masks.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { canvas in
                let source = source.baseAddress!, canvas = canvas.baseAddress!
                parallelFor(n) { i in
                    let (x0, y0, x1, y1) = expandedIntegerBox(boxValues[(4 * i)..<(4 * i + 4)], scale: scale)
                    let w = max(x1 - x0 + 1, 1), h = max(y1 - y0 + 1, 1)
                    let paddedMask = Tensor(shape: [1, 1, padded, padded]) { p in
                        for row in 0..<m {
                            (p.baseAddress! + (row + padding) * padded + padding)
                                .update(from: source + (i * m + row) * m, count: m)
                        }
                    }
                    let resized = ResamplingKernels.bilinearForward(paddedMask, height: h, width: w)
                    // Destination rows/cols clipped to the image; the source window follows them.
                    let rowStart = max(y0, 0), rowEnd = min(y1 + 1, imageHeight)
                    let colStart = max(x0, 0), colEnd = min(x1 + 1, imageWidth)
                    guard rowStart < rowEnd && colStart < colEnd else { return }
                    resized.withUnsafeBufferPointer { r in
                        let plane = canvas + i * imageHeight * imageWidth
                        for row in rowStart..<rowEnd {
                            (plane + row * imageWidth + colStart)
                                .update(from: r.baseAddress! + (row - y0) * w + (colStart - x0), count: colEnd - colStart)
                        }
                    }
                }
            }
        }
        return result
    }

    /// Steps 2–3 of the paste: the box enlarged by `scale` about its centre, truncated to integers.
    static func expandedIntegerBox(_ box: ArraySlice<Float>, scale: Float) -> (Int, Int, Int, Int) {
        let b = Array(box)
        let halfWidth = (b[2] - b[0]) * 0.5 * scale, halfHeight = (b[3] - b[1]) * 0.5 * scale
        let centreX = (b[2] + b[0]) * 0.5, centreY = (b[3] + b[1]) * 0.5
        func truncate(_ v: Float) -> Int { v.isFinite ? Int(v) : 0 }
        return (truncate(centreX - halfWidth), truncate(centreY - halfHeight),
                truncate(centreX + halfWidth), truncate(centreY + halfHeight))
    }

    /// Soft mask targets `[P, size, size]` for training (spec §4.5): the ground-truth instance mask
    /// matched to each proposal, pooled over the proposal box by legacy RoIAlign with spatial scale 1 and
    /// adaptive sampling. The values lie in [0, 1] and are not re-binarised.
    ///
    /// `instanceMasks` is `[G, H, W]` (0/1 as float); `matchedGroundTruth[p]` is the mask index of
    /// proposal p of `proposals` `[P, 4]`.
    public static func maskTargets(instanceMasks: Tensor, proposals: Tensor, matchedGroundTruth: [Int],
                                   size: Int = 28) -> Tensor {
        precondition(instanceMasks.rank == 3, "maskTargets needs instance masks [G, H, W], got \(instanceMasks.shape)")
        precondition(proposals.rank == 2 && proposals.shape[1] == 4 && proposals.shape[0] == matchedGroundTruth.count,
                     "maskTargets needs proposals [P, 4] and P matches, got \(proposals.shape) and \(matchedGroundTruth.count)")
        let (g, h, w) = (instanceMasks.shape[0], instanceMasks.shape[1], instanceMasks.shape[2])
        let pooled = RoIAlignKernels.forward(features: instanceMasks.reshaped([g, 1, h, w]), rois: proposals,
                                             batchIndices: matchedGroundTruth, outputHeight: size, outputWidth: size,
                                             spatialScale: 1, samplingRatio: -1)
        return pooled.reshaped([proposals.shape[0], size, size])
    }

    /// `maskTargets` for binary masks given as bytes: `instanceMasks[g]` holds `height·width` values
    /// (row-major, nonzero = inside).
    public static func maskTargets(instanceMasks: [[UInt8]], height: Int, width: Int, proposals: Tensor,
                                   matchedGroundTruth: [Int], size: Int = 28) -> Tensor {
        precondition(instanceMasks.allSatisfy { $0.count == height * width },
                     "maskTargets needs \(height)×\(width) masks, got sizes \(instanceMasks.map(\.count))")
        let masks = Tensor(shape: [instanceMasks.count, height, width]) { out in
            for (g, mask) in instanceMasks.enumerated() {
                for (k, v) in mask.enumerated() where v != 0 { out[g * height * width + k] = 1 }
            }
        }
        return maskTargets(instanceMasks: masks, proposals: proposals, matchedGroundTruth: matchedGroundTruth, size: size)
    }
}
