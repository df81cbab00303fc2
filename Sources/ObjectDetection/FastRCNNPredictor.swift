import Foundation
import NeuralNetwork
import TensorCore

/// FastRCNNPredictor (spec §4.3): class logits `[R, n_c]` and class-specific deltas `[R, 4·n_c]`.
public final class FastRCNNPredictor {
    let classScore: Linear, boxPrediction: Linear

    public init(_ scope: ParameterScope, inFeatures: Int, classCount: Int, generator: inout SeededGenerator) {
        classScore = Linear(scope.child("cls_score"), inFeatures: inFeatures, outFeatures: classCount, generator: &generator)
        boxPrediction = Linear(scope.child("bbox_pred"), inFeatures: inFeatures, outFeatures: 4 * classCount,
                               generator: &generator)
    }

    public func callAsFunction(_ features: Variable, _ context: ForwardContext) -> (logits: Variable, deltas: Variable) {
        (classScore(features, context), boxPrediction(features, context))
    }
}
