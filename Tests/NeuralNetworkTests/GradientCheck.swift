import Foundation
import NeuralNetwork
import TensorCore
import XCTest

/// Finite-difference check of a backward pass.
///
/// The function under test maps watched inputs to an output of any shape. We contract the output with a
/// fixed random "upstream gradient" u, L(x) = Σ u·f(x), so one scalar probes every output element, and
/// compare the tape's ∂L/∂x with central differences (L(x + h·e_i) − L(x − h·e_i)) / (2h) for every input
/// element i.
///
/// Precision: the ops run in Float, so the forward itself cannot be evaluated in Double; L is accumulated in
/// Double, and h is taken as the difference the Float perturbation actually produced, which removes the
/// representation error of x ± h. What remains is the Float rounding of f (≈ 6e-8·|f| per element, divided by
/// 2h) and the O(h²·f‴) truncation error. With the default h = 1e-2 and inputs of order 1, both stay below
/// about 1e-4 relative to the gradient scale, so the documented tolerance is
///     |analytic − numeric| ≤ atol + rtol · max(|analytic|, |numeric|),  rtol = 1e-2, atol = 1e-3 · scale,
/// where scale is the largest |numeric| entry of that input (so near-zero entries are judged against the
/// size of the gradient as a whole). Inputs must stay at least h away from kinks (ReLU at 0, |d| = β in
/// smooth L1, ties in max-pool), or the one-sided derivatives differ and the check fails by design.
struct GradientCheck {
    var step: Float = 1e-2
    var relativeTolerance: Double = 1e-2
    var absoluteTolerance: Double = 1e-3
    var seed: UInt64 = 17

    /// Checks every input's gradient; `function` builds the output from the (watched or constant) inputs.
    func check(_ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line,
               _ function: ([Variable]) -> Variable) {
        // Analytic gradients from the tape.
        let tape = GradientTape()
        let watched = inputs.map { tape.watch($0) }
        let output = function(watched)
        var generator = SeededGenerator(seed: seed)
        let upstream = Tensor(shape: output.shape) { buffer in
            for i in 0..<buffer.count { buffer[i] = generator.nextUniform(-1, 1) }
        }
        tape.backward(from: output, seed: upstream)
        let analytic = watched.map { tape.gradient(of: $0) ?? Tensor(shape: $0.shape) }

        func objective(_ values: [Tensor]) -> Double {
            let result = function(values.map { Variable($0) }).value
            precondition(result.shape == upstream.shape)
            var total = 0.0
            for (a, b) in zip(result.scalars, upstream.scalars) { total += Double(a) * Double(b) }
            return total
        }

        for inputIndex in inputs.indices {
            var numeric = [Double](repeating: 0, count: inputs[inputIndex].count)
            for element in 0..<inputs[inputIndex].count {
                var plus = inputs, minus = inputs
                let x = inputs[inputIndex].scalars[element]
                let xPlus = x + step, xMinus = x - step
                plus[inputIndex].withUnsafeMutableBufferPointer { $0[element] = xPlus }
                minus[inputIndex].withUnsafeMutableBufferPointer { $0[element] = xMinus }
                numeric[element] = (objective(plus) - objective(minus)) / Double(xPlus - xMinus)
            }
            let scale = max(numeric.map(abs).max() ?? 0, 1e-12)
            let got = analytic[inputIndex].scalars
            var worst = 0.0, worstIndex = -1
            for element in numeric.indices {
                let a = Double(got[element]), n = numeric[element]
                let excess = abs(a - n) - (absoluteTolerance * scale + relativeTolerance * max(abs(a), abs(n)))
                if excess > worst { worst = excess; worstIndex = element }
            }
            XCTAssertTrue(worstIndex < 0,
                          "input \(inputIndex) \(inputs[inputIndex].shape): element \(worstIndex) analytic "
                          + "\(worstIndex >= 0 ? Double(got[worstIndex]) : 0) vs numeric "
                          + "\(worstIndex >= 0 ? numeric[worstIndex] : 0)", file: file, line: line)
        }
    }
}

/// Random tensor with uniform entries in [low, high) from a seeded stream (tests only).
func randomTensor(_ shape: [Int], _ low: Float = -1, _ high: Float = 1, seed: UInt64, stream: String = "") -> Tensor {
    var generator = SeededGenerator(seed: seed, stream: stream)
    return Tensor(shape: shape) { buffer in
        for i in 0..<buffer.count { buffer[i] = generator.nextUniform(low, high) }
    }
}
