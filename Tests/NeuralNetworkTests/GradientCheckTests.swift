import NeuralNetwork
import TensorCore
import XCTest

/// The gradient checker itself must reject a backward pass that is slightly wrong.
final class GradientCheckTests: XCTestCase {
    /// y = x², with the backward scaled by `error`.
    private func square(_ x: Variable, error: Float) -> Variable {
        let value = x.value
        return Variable.result(value.map { $0 * $0 }, inputs: [x]) { gradient in
            [Tensor(shape: value.shape, scalars: zip(value.scalars, gradient.scalars).map { 2 * $0 * $1 * error })]
        }
    }

    func testAcceptsCorrectAndRejectsOnePercentError() {
        let x = randomTensor([3, 4], 0.2, 1.5, seed: 31)
        let correct = GradientCheck().measure([x]) { square($0[0], error: 1) }
        XCTAssertNil(correct[0].worstElement)
        XCTAssertLessThan(correct[0].largestScaledError, 1e-4)
        let wrong = GradientCheck().measure([x]) { square($0[0], error: 1.01) }
        XCTAssertNotNil(wrong[0].worstElement, "a 1 % error in a backward pass must be detected")
    }
}
