import NeuralNetwork
import TensorCore

/// Module S (`s2new`, spec §5): the D ranked rows of [score, dx, dy, dw, dh] (w = 5 columns; more with the
/// row-class option), flattened row-major to `[1, w·D]`, → Linear(wD, s) → ReLU → Linear(s, s) → ReLU → Linear(s, 3) logits (Control, CP, COVID-19).
/// Weights kaiming_normal(fan_out, relu); biases keep PyTorch's default uniform init.
public final class ClassificationModule {
    /// D: ranked rows per image (fixed at build time, spec §5).
    public let roiBatchSize: Int
    /// Columns per ranked row: 5 in the seed, plus one per lesion class with the row-class option.
    public let rowWidth: Int
    /// s: hidden width (`s_features`).
    public let features: Int
    let fcScores: Linear, fcScores2: Linear, fcScoresImage: Linear

    /// Registers `fc_scores`, `fc_scores_2`, `fc_scores_img` under `scope` (normally `s2new`), initialised from `generator`.
    public init(_ scope: ParameterScope, roiBatchSize: Int, rowWidth: Int = 5, features: Int,
                generator: inout SeededGenerator) {
        self.roiBatchSize = roiBatchSize
        self.rowWidth = rowWidth
        self.features = features
        fcScores = Linear(scope.child("fc_scores"), inFeatures: rowWidth * roiBatchSize, outFeatures: features,
                          initialization: .kaimingNormalFanOut, generator: &generator)
        fcScores2 = Linear(scope.child("fc_scores_2"), inFeatures: features, outFeatures: features,
                           initialization: .kaimingNormalFanOut, generator: &generator)
        fcScoresImage = Linear(scope.child("fc_scores_img"), inFeatures: features, outFeatures: 3,
                               initialization: .kaimingNormalFanOut, generator: &generator)
    }

    /// Ranked boxes `[D, w]` → class logits `[1, 3]`.
    public func callAsFunction(_ rankedBoxes: Variable, _ context: ForwardContext) -> Variable {
        precondition(rankedBoxes.shape == [roiBatchSize, rowWidth],
                     "module S was built for D = \(roiBatchSize) rows of \(rowWidth), got ranked boxes \(rankedBoxes.shape)")
        let flat = reshape(rankedBoxes, [1, rowWidth * roiBatchSize])
        return fcScoresImage(relu(fcScores2(relu(fcScores(flat, context)), context)), context)
    }

    /// w·D·s + s + s² + s + 3·s + 3 (spec §2.4, w = 5).
    public static func parameterCount(roiBatchSize: Int, rowWidth: Int = 5, features: Int) -> Int {
        rowWidth * roiBatchSize * features + features + features * features + features + 3 * features + 3
    }
}
