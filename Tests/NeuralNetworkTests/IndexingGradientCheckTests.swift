import Foundation
import NeuralNetwork
import TensorCore
import XCTest

/// Finite-difference checks of the indexing, layout and reshape ops used by the detection heads.
final class IndexingGradientCheckTests: XCTestCase {
    func testGatherGradients() {
        let x = randomTensor([5, 8], seed: 201)
        GradientCheck().check([x]) { v in gatherRows(v[0], [4, 0, 4, 2]) }
        GradientCheck().check([x]) { v in gatherBlocks(v[0], rows: [1, 3, 1], blocks: [0, 1, 1], blockWidth: 4) }
        GradientCheck().check([x]) { v in gatherRows(v[0], []) }
    }

    func testConcatenateGradients() {
        let a = randomTensor([2, 3], seed: 202), b = randomTensor([4, 3], seed: 203), c = randomTensor([2, 5], seed: 204)
        GradientCheck().check([a, b]) { v in concatenateRows([v[0], v[1]]) }
        GradientCheck().check([a, c]) { v in concatenateColumns([v[0], v[1]]) }
    }

    func testChannelsLastAndSoftmaxGradients() {
        GradientCheck().check([randomTensor([2, 6, 3, 2], seed: 205)]) { v in channelsLast(v[0]) }
        GradientCheck().check([randomTensor([3, 5], -2, 2, seed: 206)]) { v in softmaxRows(v[0]) }
        GradientCheck().check([randomTensor([2, 3, 4], seed: 208)]) { v in reshape(v[0], [4, -1]) }
    }

    func testLogCompressGradientAndEnds() {
        // Inputs and ε keep (x + ε) ≥ 0.3: central differences with h = 1e-2 stay within the check's tolerance
        // there (the truncation error grows as 1 / (x + ε)²).
        GradientCheck().check([randomTensor([4, 3], 0.1, 1, seed: 209)]) { v in logCompress(v[0], floor: 0.2) }
        XCTAssertEqual(logCompress(Variable(Tensor(shape: [3], scalars: [0, 1, 0.001])), floor: 1e-4).value.scalars[0...1], [0, 1])
        XCTAssertEqual(logCompress(Variable(Tensor(shape: [1], scalars: [0.001])), floor: 1e-4).value.scalars[0], 0.2603, accuracy: 1e-4)
    }

    /// softmaxRows followed by nothing else must agree with the probabilities inside softmaxCrossEntropy:
    /// −log softmax[label] summed equals the summed cross-entropy.
    func testSoftmaxRowsAgreesWithCrossEntropy() {
        let logits = randomTensor([4, 6], -3, 3, seed: 207)
        let labels = [0, 5, 2, 3]
        let probabilities = softmaxRows(Variable(logits)).value.scalars
        let manual = labels.enumerated().reduce(0.0) { $0 - Foundation.log(Double(probabilities[$1.offset * 6 + $1.element])) }
        let loss = softmaxCrossEntropy(logits: Variable(logits), labels: labels, reduction: .sum).value.scalar
        XCTAssertEqual(Double(loss), manual, accuracy: 1e-5 * manual)
    }
}
