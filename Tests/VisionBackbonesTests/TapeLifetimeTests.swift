import XCTest
import NeuralNetwork
import TensorCore

/// A tape whose pass never runs `backward` (forward-only, or branches off the loss) must be freed with
/// its saved activations once the caller drops it: variables refer to their tape weakly, so the
/// recorded closures that capture them do not keep the tape alive.
final class TapeLifetimeTests: XCTestCase {
    func testForwardOnlyTapeIsReleased() {
        weak var released: GradientTape?
        var output: Variable?
        do {
            let tape = GradientTape()
            released = tape
            let x = tape.watch(Tensor(shape: [1, 2, 5, 5], repeating: 0.5))
            let w = tape.watch(Tensor(shape: [3, 2, 3, 3], repeating: 0.1))
            output = relu(conv2d(x, weight: w, bias: nil, padding: 1))
            XCTAssertNotNil(released)
            XCTAssertTrue(output!.requiresGradient)
        }
        XCTAssertNil(released, "a tape without backward must not keep itself alive through its nodes")
        XCTAssertEqual(output?.shape, [1, 3, 5, 5], "the forward value outlives the tape")
        XCTAssertNil(output?.tape)
    }

    func testBackwardStillReachesInputsWhileTapeIsHeld() {
        let tape = GradientTape()
        let x = tape.watch(Tensor(shape: [1, 1, 3, 3], repeating: 1))
        let w = tape.watch(Tensor(shape: [1, 1, 1, 1], repeating: 2))
        let y = conv2d(x, weight: w, bias: nil)
        tape.backward(from: sum(y))
        XCTAssertEqual(tape.gradient(of: x)?.scalars, [Float](repeating: 2, count: 9))
        XCTAssertEqual(tape.gradient(of: w)?.scalars, [9])
    }
}
