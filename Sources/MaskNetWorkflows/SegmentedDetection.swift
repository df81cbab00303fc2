import EvaluationMetrics
import Foundation
import ObjectDetection

/// One detection of a slice in the original image's pixels, its mask binarised as the seed does: what
/// evaluation scores and inference writes, and the one conversion of detections to COCO results.
public struct SegmentedDetection: Sendable, Equatable {
    /// Detector label (1…n_c−1; names in `MaskType.classNames`).
    public var label: Int
    /// Softmax box score.
    public var score: Float
    /// `[x1, y1, x2, y2]` in original-image pixels.
    public var box: [Float]
    /// Pixels whose pasted mask logit is strictly above the threshold (spec §7.1.2, Appendix D/B5).
    public var mask: BinaryMask
    /// Mean sigmoid of the logits inside `mask` (0 for an empty mask): the mask's probability for COCO tools.
    public var maskProbability: Double

    /// Every detection of one slice, in the detector's order (decreasing score). `detections.masks` holds the
    /// pasted logits `[N, height, width]`.
    public static func all(_ detections: Detections, height: Int, width: Int, maskLogitThreshold: Float) -> [SegmentedDetection] {
        let plane = height * width
        let boxes = detections.boxes.scalars
        return detections.masks.withUnsafeBufferPointer { logits in
            detections.labels.indices.map { d in
                var pixels = [UInt8](repeating: 0, count: plane)
                var probabilitySum = 0.0, area = 0
                for p in 0..<plane where logits[d * plane + p] > maskLogitThreshold {
                    pixels[p] = 1
                    area += 1
                    probabilitySum += 1 / (1 + exp(-Double(logits[d * plane + p])))
                }
                return SegmentedDetection(label: detections.labels[d], score: detections.scores[d],
                                          box: Array(boxes[(4 * d)..<(4 * d + 4)]),
                                          mask: BinaryMask(height: height, width: width, pixels: pixels),
                                          maskProbability: area > 0 ? probabilitySum / Double(area) : 0)
            }
        }
    }

    /// The COCO results record: `bbox` `[x, y, w, h]`, `score`, compressed-RLE `segmentation`.
    /// Width and height are differences of the corners in Double, so they carry no Float rounding.
    public func cocoResult(imageID: Int) -> COCOResult {
        let (x1, y1, x2, y2) = (Double(box[0]), Double(box[1]), Double(box[2]), Double(box[3]))
        return COCOResult(imageID: imageID, categoryID: label, score: Double(score),
                          bbox: COCOBox(x: x1, y: y1, width: x2 - x1, height: y2 - y1), segmentation: RLEMask(encoding: mask))
    }

    /// The mask as row-major booleans, for overlays.
    public var maskBools: [Bool] { mask.pixels.map { $0 != 0 } }
}
