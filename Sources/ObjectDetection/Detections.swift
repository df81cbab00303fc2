import Foundation
import NeuralNetwork
import TensorCore

/// Detections of one image (spec §4.6).
public struct Detections {
    /// `[N, 4]` boxes.
    public var boxes: Tensor
    public var scores: [Float]
    /// Labels 1…n_c−1.
    public var labels: [Int]
    /// `[N, H, W]` pasted mask logits (background 0), or `[N, 28, 28]` before pasting.
    public var masks: Tensor
}
