import Foundation
import TensorCore

/// Parameter initialisers with PyTorch's definitions (spec §0.3, §2.1), drawing from our own seeded
/// generator so that a model's initial weights are identical on every machine.
///
/// Fan-in and fan-out follow `torch.nn.init._calculate_fan_in_and_fan_out` literally:
/// fan_in = size(1) · receptive field, fan_out = size(0) · receptive field. For a transposed
/// convolution (weight `[in, out, kh, kw]`) that makes "fan_out" the input channel count, as in PyTorch.
public enum Initialization {
    /// (fan_in, fan_out) of a weight shape.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.count >= 2, "fan computation needs a weight of rank ≥ 2, got \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// `kaiming_normal_(mode='fan_out', nonlinearity='relu')`: N(0, 2 / fan_out).
    public static func kaimingNormalFanOut(_ shape: [Int], using generator: inout SeededGenerator) -> Tensor {
        let std = Float((2.0 / Double(fans(shape).fanOut)).squareRoot())
        return normal(shape, standardDeviation: std, using: &generator)
    }

    /// `kaiming_uniform_(a)` with mode fan_in and leaky-ReLU gain √(2/(1+a²)):
    /// U(−b, b) with b = gain·√(3/fan_in). PyTorch's default layer init is a = √5.
    public static func kaimingUniform(_ shape: [Int], a: Double, using generator: inout SeededGenerator) -> Tensor {
        let gain = (2.0 / (1.0 + a * a)).squareRoot()
        let bound = Float(gain * (3.0 / Double(fans(shape).fanIn)).squareRoot())
        return uniform(shape, bound: bound, using: &generator)
    }

    /// PyTorch's default weight init for Linear/Conv layers: `kaiming_uniform_(a=√5)`.
    public static func defaultWeight(_ shape: [Int], using generator: inout SeededGenerator) -> Tensor {
        kaimingUniform(shape, a: 5.0.squareRoot(), using: &generator)
    }

    /// PyTorch's default bias init: U(−1/√fan_in, 1/√fan_in), fan_in taken from the weight shape.
    public static func defaultBias(count: Int, weightShape: [Int], using generator: inout SeededGenerator) -> Tensor {
        let fanIn = fans(weightShape).fanIn
        let bound = fanIn > 0 ? Float(1.0 / Double(fanIn).squareRoot()) : 0
        return uniform([count], bound: bound, using: &generator)
    }

    /// U(−bound, bound).
    public static func uniform(_ shape: [Int], bound: Float, using generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { buffer in
            for i in 0..<buffer.count { buffer[i] = generator.nextUniform(-bound, bound) }
        }
    }

    /// N(0, std²).
    public static func normal(_ shape: [Int], standardDeviation: Float, using generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { buffer in
            for i in 0..<buffer.count { buffer[i] = standardDeviation * generator.nextNormal() }
        }
    }
}
