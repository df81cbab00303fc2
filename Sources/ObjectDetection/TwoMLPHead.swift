import Foundation
import NeuralNetwork
import TensorCore

/// TwoMLPHead (spec §4.2): flatten each 256×7×7 RoI channel-major → fc6 → ReLU → fc7 → ReLU.
public final class TwoMLPHead {
    let fc6: Linear, fc7: Linear

    public init(_ scope: ParameterScope, inFeatures: Int, representationSize: Int, generator: inout SeededGenerator) {
        fc6 = Linear(scope.child("fc6"), inFeatures: inFeatures, outFeatures: representationSize, generator: &generator)
        fc7 = Linear(scope.child("fc7"), inFeatures: representationSize, outFeatures: representationSize, generator: &generator)
    }

    /// `[R, 256, 7, 7]` → `[R, representation]`.
    public func callAsFunction(_ pooled: Variable, _ context: ForwardContext) -> Variable {
        relu(fc7(relu(fc6(flatten(pooled), context)), context))
    }
}
