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
/// 2h) and the O(h²·f‴) truncation error. With the default h = 1e-2 and inputs of order 1 the measured
/// error is below 1e-4 of the gradient's scale for every op and loss here (largest seen: 7e-5, run with
/// GRADIENT_CHECK_VERBOSE=1 to print it), so the documented tolerance is
///     |analytic − numeric| ≤ atol·scale + rtol·max(|analytic|, |numeric|),  rtol = 1e-3, atol = 2e-4,
/// where scale is the largest |numeric| entry of that input (so near-zero entries are judged against the
/// size of the gradient as a whole). A backward that is off by 1 % fails it (see GradientCheckTests).
/// Inputs must stay at least h away from kinks (ReLU at 0, |d| = β in smooth L1, ties in max-pool), or the
/// one-sided derivatives differ and the check fails by design.
struct GradientCheck {
    var step: Float = 1e-2
    var relativeTolerance: Double = 1e-3
    var absoluteTolerance: Double = 2e-4
    var seed: UInt64 = 17

    /// The outcome for one input: the element furthest outside the tolerance (nil if none is) and the
    /// largest |analytic − numeric| / scale seen, for reporting.
    struct InputResult {
        var worstElement: Int?
        var analytic: Double
        var numeric: Double
        var largestScaledError: Double
    }

    /// Compares analytic and numeric gradients of every input without asserting.
    func measure(_ inputs: [Tensor], _ function: ([Variable]) -> Variable) -> [InputResult] {
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

        return inputs.indices.map { inputIndex in
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
            let got = analytic[inputIndex].scalars.map(Double.init)
            var result = InputResult(worstElement: nil, analytic: 0, numeric: 0, largestScaledError: 0)
            var worst = 0.0
            for element in numeric.indices {
                let a = got[element], n = numeric[element]
                result.largestScaledError = max(result.largestScaledError, abs(a - n) / scale)
                let excess = abs(a - n) - (absoluteTolerance * scale + relativeTolerance * max(abs(a), abs(n)))
                if excess > worst {
                    worst = excess
                    result.worstElement = element
                    result.analytic = a
                    result.numeric = n
                }
            }
            return result
        }
    }

    /// Checks every input's gradient; `function` builds the output from the (watched or constant) inputs.
    func check(_ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line,
               _ function: ([Variable]) -> Variable) {
        for (index, result) in measure(inputs, function).enumerated() {
            if ProcessInfo.processInfo.environment["GRADIENT_CHECK_VERBOSE"] != nil {
                print("gradient check \(file):\(line) input \(index): largest |analytic − numeric| / scale = \(result.largestScaledError)")
            }
            if let element = result.worstElement {
                XCTFail("input \(index) \(inputs[index].shape): element \(element) analytic \(result.analytic) vs numeric "
                        + "\(result.numeric)", file: file, line: line)
            }
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
