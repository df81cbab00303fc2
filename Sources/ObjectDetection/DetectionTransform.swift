import NeuralNetwork
import TensorCore

/// Ground truth of one image for the detector: boxes `[K, 4]` (x1, y1, x2, y2, half-open pixel
/// extents), labels 1…n_c−1, and per-instance binary masks `[K, H, W]` (0/1 as Float).
public struct DetectionTarget {
    public var boxes: Tensor
    public var labels: [Int]
    public var masks: Tensor

    public init(boxes: Tensor, labels: [Int], masks: Tensor) {
        precondition(boxes.shape == [labels.count, 4] && masks.rank == 3 && masks.shape[0] == labels.count,
                     "DetectionTarget: boxes \(boxes.shape), \(labels.count) labels, masks \(masks.shape)")
        self.boxes = boxes
        self.labels = labels
        self.masks = masks
    }

    public var isEmpty: Bool { labels.isEmpty }
}

/// One image prepared for the network (spec §1.2): normalised, resized, padded to a multiple of 32.
public struct TransformedImage {
    /// `[1, 3, Hp, Wp]`.
    public var batch: Tensor
    /// Size after resizing, before padding.
    public var height: Int, width: Int
    /// Size of the original image.
    public var originalHeight: Int, originalWidth: Int
    /// Resized target, if one was given.
    public var target: DetectionTarget?
}

/// torchvision 0.3's GeneralizedRCNNTransform with the seed's settings (spec §1.2, Appendix D/B18).
public struct DetectionTransform {
    public var minSize: Int, maxSize: Int
    public var mean: [Float], std: [Float]
    public var sizeDivisibility = 32

    public init(configuration: MaskRCNNConfiguration) {
        minSize = configuration.minSize
        maxSize = configuration.maxSize
        mean = configuration.imageMean
        std = configuration.imageStd
    }

    /// The resize factor: shorter side to min_size unless that makes the longer side exceed max_size.
    public func scale(height: Int, width: Int) -> Float {
        let shorter = Float(min(height, width)), longer = Float(max(height, width))
        var scale = Float(minSize) / shorter
        if longer * scale > Float(maxSize) { scale = Float(maxSize) / longer }
        return scale
    }

    /// Normalise, resize (bilinear, align_corners = False) and pad an image `[3, H, W]` in [0, 1].
    public func callAsFunction(_ image: Tensor, target: DetectionTarget? = nil) -> TransformedImage {
        precondition(image.rank == 3 && image.shape[0] == 3, "DetectionTransform expects [3, H, W], got \(image.shape)")
        let (height, width) = (image.shape[1], image.shape[2])
        var normalized = image
        normalized.withUnsafeMutableBufferPointer { pixels in
            for c in 0..<3 {
                let (m, s) = (mean[c], std[c])
                for i in (c * height * width)..<((c + 1) * height * width) { pixels[i] = (pixels[i] - m) / s }
            }
        }
        let factor = scale(height: height, width: width)
        // torch computes the output size as floor(size · scale) and then interpolates by size.
        let newHeight = Int((Float(height) * factor).rounded(.down)), newWidth = Int((Float(width) * factor).rounded(.down))
        var resized = normalized.reshaped([1, 3, height, width])
        if newHeight != height || newWidth != width {
            resized = ResamplingKernels.bilinearForward(resized, height: newHeight, width: newWidth)
        }
        let paddedHeight = (newHeight + sizeDivisibility - 1) / sizeDivisibility * sizeDivisibility
        let paddedWidth = (newWidth + sizeDivisibility - 1) / sizeDivisibility * sizeDivisibility
        var batch = resized
        if paddedHeight != newHeight || paddedWidth != newWidth {
            batch = Tensor(shape: [1, 3, paddedHeight, paddedWidth]) { out in
                resized.withUnsafeBufferPointer { source in
                    for c in 0..<3 {
                        for y in 0..<newHeight {
                            (out.baseAddress! + (c * paddedHeight + y) * paddedWidth)
                                .update(from: source.baseAddress! + (c * newHeight + y) * newWidth, count: newWidth)
                        }
                    }
                }
            }
        }
        var resizedTarget = target
        if let target, newHeight != height || newWidth != width {
            let (sy, sx) = (Float(newHeight) / Float(height), Float(newWidth) / Float(width))
            let boxes = Tensor(shape: target.boxes.shape) { out in
                target.boxes.withUnsafeBufferPointer { b in
                    for i in 0..<target.labels.count {
                        out[4 * i] = b[4 * i] * sx; out[4 * i + 2] = b[4 * i + 2] * sx
                        out[4 * i + 1] = b[4 * i + 1] * sy; out[4 * i + 3] = b[4 * i + 3] * sy
                    }
                }
            }
            let masks = target.labels.isEmpty ? Tensor(shape: [0, newHeight, newWidth])
                : ResamplingKernels.nearestForward(target.masks.reshaped([1, target.labels.count, height, width]),
                                                   height: newHeight, width: newWidth)
                    .reshaped([target.labels.count, newHeight, newWidth])
            resizedTarget = DetectionTarget(boxes: boxes, labels: target.labels, masks: masks)
        }
        return TransformedImage(batch: batch, height: newHeight, width: newWidth,
                                originalHeight: height, originalWidth: width, target: resizedTarget)
    }

    /// Boxes from the resized image back to the original image's coordinates.
    public static func resizeBoxes(_ boxes: Tensor, from image: TransformedImage) -> Tensor {
        let (sy, sx) = (Float(image.originalHeight) / Float(image.height), Float(image.originalWidth) / Float(image.width))
        if sx == 1 && sy == 1 { return boxes }
        return Tensor(shape: boxes.shape) { out in
            boxes.withUnsafeBufferPointer { b in
                for i in 0..<(boxes.count / 4) {
                    out[4 * i] = b[4 * i] * sx; out[4 * i + 2] = b[4 * i + 2] * sx
                    out[4 * i + 1] = b[4 * i + 1] * sy; out[4 * i + 3] = b[4 * i + 3] * sy
                }
            }
        }
    }
}
