import Foundation
import NeuralNetwork
import TensorCore
import TestSupport
import XCTest

/// Losses: finite-difference checks of every backward pass and comparison with PyTorch
/// (fixture ops.safetensors; forward rtol 1e-5, gradients rtol 1e-4 — the losses are simple enough to meet
/// tolerances ten times tighter than the ones the issue sets for the ops).
final class LossTests: XCTestCase {
    // MARK: Finite differences

    func testBinaryCrossEntropyGradient() {
        let logits = randomTensor([3, 5], -4, 4, seed: 1)
        let targets = randomTensor([3, 5], 0, 1, seed: 2)
        for reduction in [LossReduction.mean, .sum] {
            GradientCheck().check([logits]) { binaryCrossEntropyWithLogits(logits: $0[0], targets: targets, reduction: reduction) }
        }
    }

    func testSoftmaxCrossEntropyGradient() {
        let logits = randomTensor([4, 6], -3, 3, seed: 3)
        for reduction in [LossReduction.mean, .sum] {
            GradientCheck().check([logits]) { softmaxCrossEntropy(logits: $0[0], labels: [5, 0, 2, 2], reduction: reduction) }
        }
    }

    func testSmoothL1Gradient() {
        for beta: Float in [1, 1.0 / 9.0] {
            let target = randomTensor([4, 5], -1, 1, seed: 4)
            // Keep every difference at least 0.03 away from the kink |d| = β (the step is 0.01).
            var input = randomTensor([4, 5], -1.5, 1.5, seed: 5) + target
            input = Tensor(shape: input.shape, scalars: zip(input.scalars, target.scalars).map { x, t in
                let d = x - t
                return abs(abs(d) - beta) < 0.03 ? t + (abs(d) + 0.06) * (d < 0 ? -1 : 1) : x
            })
            for reduction in [LossReduction.mean, .sum] {
                GradientCheck().check([input]) { smoothL1($0[0], target: target, beta: beta, reduction: reduction) }
            }
        }
    }

    func testL1Gradient() {
        let target = randomTensor([3, 4], -1, 1, seed: 6)
        let offsets = randomTensor([3, 4], 0.05, 1, seed: 7).scalars.enumerated().map { $0.offset % 2 == 0 ? $0.element : -$0.element }
        let input = target + Tensor(shape: [3, 4], scalars: offsets)
        for reduction in [LossReduction.mean, .sum] {
            GradientCheck().check([input]) { l1($0[0], target: target, reduction: reduction) }
        }
    }

    func testReductionsAndCompositionGradient() {
        let a = randomTensor([2, 3], seed: 8), b = randomTensor([2, 3], seed: 9)
        GradientCheck().check([a, b]) { v in
            addVariables([sum(v[0]).scaled(by: 0.5), mean(v[1]), sum(v[0]).scaled(by: -2)])
        }
        GradientCheck().check([a, b]) { v in addVariables([v[0], v[1].scaled(by: 3)]) }
    }

    func testLossesAreStableForExtremeLogits() {
        let logits = Tensor(shape: [4], scalars: [200, -200, 88, -88])
        let loss = binaryCrossEntropyWithLogits(logits: Variable(logits), targets: Tensor(shape: [4], scalars: [0, 1, 1, 0]),
                                                reduction: .sum)
        XCTAssertEqual(loss.value.scalar, 400, accuracy: 1e-3)
        let ce = softmaxCrossEntropy(logits: Variable(Tensor(shape: [1, 3], scalars: [1000, 0, -1000])), labels: [1])
        XCTAssertEqual(ce.value.scalar, 1000, accuracy: 1e-2)
        XCTAssertTrue(ce.value.scalar.isFinite)
    }

    /// No positives: summed regression losses over `[0, 4]` are 0 and back-propagate an empty gradient.
    func testSumOverNoElementsIsZero() {
        let tape = GradientTape()
        let empty = tape.watch(Tensor(shape: [0, 4]))
        let loss = addVariables([l1(empty, target: Tensor(shape: [0, 4]), reduction: .sum),
                                 smoothL1(empty, target: Tensor(shape: [0, 4]), beta: 1, reduction: .sum)])
        XCTAssertEqual(loss.value.scalar, 0)
        tape.backward(from: loss)
        XCTAssertEqual(tape.gradient(of: empty)?.shape, [0, 4])
    }

    // MARK: PyTorch fixtures

    private func compareLoss(_ name: String, file: StaticString = #filePath, line: UInt = #line,
                             _ loss: (Variable, SafeTensorsFile) throws -> Variable) throws {
        let fixture = try loadFixture("ops")
        let tape = GradientTape()
        let input = tape.watch(try fixture.tensor("\(name).input"))
        let output = try loss(input, fixture)
        assertClose(output.value, try fixture.tensor("\(name).output"), rtol: 1e-5, atol: 1e-6, "\(name) output",
                    file: file, line: line)
        tape.backward(from: output, seed: try fixture.tensor("\(name).grad_output"))
        assertClose(tape.gradient(of: input), try fixture.tensor("\(name).grad_input"), rtol: 1e-4, atol: 1e-7,
                    "\(name) grad_input", file: file, line: line)
    }

    func testBinaryCrossEntropyMatchesPyTorch() throws {
        for reduction in [LossReduction.mean, .sum] {
            try compareLoss("bce_\(reduction.rawValue)") { input, fixture in
                binaryCrossEntropyWithLogits(logits: input, targets: try fixture.tensor("bce_\(reduction.rawValue).targets"),
                                             reduction: reduction)
            }
        }
    }

    func testSoftmaxCrossEntropyMatchesPyTorch() throws {
        for reduction in [LossReduction.mean, .sum] {
            try compareLoss("ce_\(reduction.rawValue)") { input, fixture in
                let labels = try XCTUnwrap(fixture.integerTensors["ce_\(reduction.rawValue).labels"]).scalars.map { Int($0) }
                return softmaxCrossEntropy(logits: input, labels: labels, reduction: reduction)
            }
        }
    }

    func testSmoothL1MatchesPyTorch() throws {
        for (betaName, beta) in [("1", Float(1)), ("ninth", Float(1.0 / 9.0))] {
            for reduction in [LossReduction.sum, .mean] {
                let name = "smoothl1_\(betaName)_\(reduction.rawValue)"
                let config = try loadFixture("ops").jsonMetadata(name)
                XCTAssertEqual((config["beta"] as? Double).map(Float.init), beta, name)
                try compareLoss(name) { input, fixture in
                    smoothL1(input, target: try fixture.tensor("\(name).target"), beta: beta, reduction: reduction)
                }
            }
        }
    }

    func testL1MatchesPyTorch() throws {
        for reduction in [LossReduction.sum, .mean] {
            try compareLoss("l1_\(reduction.rawValue)") { input, fixture in
                l1(input, target: try fixture.tensor("l1_\(reduction.rawValue).target"), reduction: reduction)
            }
        }
    }

    /// The Python port of SeededGenerator in Tools/make_nn_fixtures.py (used for the backbone fixture's
    /// weights) must reproduce our stream bit for bit.
    func testSeededGeneratorPortIsBitExact() throws {
        let fixture = try loadFixture("ops")
        var normal = SeededGenerator(seed: 42, stream: "masknet.check")
        let a: Float = 0.5, b: Float = 2
        let ours = (0..<37).map { _ in a + b * normal.nextNormal() }
        XCTAssertEqual(ours, try fixture.tensor("seeded.normal").scalars)
        var uniform = SeededGenerator(seed: 42, stream: "masknet.check.uniform")
        let low: Float = -1, width: Float = 2
        XCTAssertEqual((0..<11).map { _ in low + width * uniform.nextUniform() }, try fixture.tensor("seeded.uniform").scalars)
    }
}
