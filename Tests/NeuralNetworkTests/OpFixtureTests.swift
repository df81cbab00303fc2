import Foundation
import NeuralNetwork
import TensorCore
import TestSupport
import XCTest

/// The differentiable ops against PyTorch (fixture ops.safetensors, references computed in float64 from the
/// stored float32 inputs): forward outputs within rtol 1e-4 and input/weight gradients within rtol 1e-3,
/// both with atol 1e-5 so that entries near zero (where a relative bound is meaningless) are judged
/// absolutely.
final class OpFixtureTests: XCTestCase {
    private static let fixture: SafeTensorsFile? = try? loadFixture("ops")
    private let forwardRtol: Float = 1e-4, gradientRtol: Float = 1e-3, atol: Float = 1e-5

    private func fixture() throws -> SafeTensorsFile { try XCTUnwrap(Self.fixture, "ops.safetensors did not load") }

    /// Loads `<name>.<input>` for each input, runs `body` on watched variables, and compares the output and
    /// every `<name>.grad_<input>` after back-propagating `<name>.grad_output`.
    private func check(_ name: String, inputs: [String], file: StaticString = #filePath, line: UInt = #line,
                       _ body: ([String: Variable]) throws -> Variable) throws {
        let fixture = try fixture()
        let tape = GradientTape()
        var variables: [String: Variable] = [:]
        for input in inputs { variables[input] = tape.watch(try fixture.tensor("\(name).\(input)")) }
        let output = try body(variables)
        assertClose(output.value, try fixture.tensor("\(name).output"), rtol: forwardRtol, atol: atol,
                    "\(name) output", file: file, line: line)
        tape.backward(from: output, seed: try fixture.tensor("\(name).grad_output"))
        for input in inputs {
            assertClose(tape.gradient(of: variables[input]!), try fixture.tensor("\(name).grad_\(input)"),
                        rtol: gradientRtol, atol: atol, "\(name) grad_\(input)", file: file, line: line)
        }
    }

    private func config(_ name: String) throws -> [String: Any] {
        let object = try fixture().jsonMetadata(name)
        XCTAssertFalse(object.isEmpty, "no metadata for \(name)")
        return object
    }

    func testConv2d() throws {
        for name in ["conv_a", "conv_b", "conv_c", "conv_d", "conv_e", "conv_f"] {
            let settings = try config(name)
            let stride = try XCTUnwrap(settings["stride"] as? Int), padding = try XCTUnwrap(settings["padding"] as? Int)
            let dilation = try XCTUnwrap(settings["dilation"] as? Int), hasBias = try XCTUnwrap(settings["bias"] as? Bool)
            try check(name, inputs: hasBias ? ["input", "weight", "bias"] : ["input", "weight"]) { v in
                conv2d(v["input"]!, weight: v["weight"]!, bias: v["bias"], stride: stride, padding: padding,
                       dilation: dilation)
            }
        }
    }

    func testConvTranspose2d() throws {
        try check("convt_a", inputs: ["input", "weight", "bias"]) { v in
            convTranspose2d(v["input"]!, weight: v["weight"]!, bias: v["bias"], stride: 2)
        }
        try check("convt_b", inputs: ["input", "weight"]) { v in
            convTranspose2d(v["input"]!, weight: v["weight"]!, bias: nil, stride: 2)
        }
    }

    func testLinear() throws {
        try check("linear_a", inputs: ["input", "weight", "bias"]) { v in linear(v["input"]!, weight: v["weight"]!, bias: v["bias"]) }
        try check("linear_b", inputs: ["input", "weight"]) { v in linear(v["input"]!, weight: v["weight"]!, bias: nil) }
    }

    func testBatchNormTraining() throws {
        let fixture = try fixture()
        var runningMean = try fixture.tensor("bn_train.running_mean")
        var runningVariance = try fixture.tensor("bn_train.running_var")
        try check("bn_train", inputs: ["input", "weight", "bias"]) { v in
            batchNorm2d(v["input"]!, weight: v["weight"]!, bias: v["bias"]!, runningMean: &runningMean,
                        runningVariance: &runningVariance, mode: .training, updateRunningStatistics: true)
        }
        // PyTorch moves running_var with the unbiased batch variance.
        assertClose(runningMean, try fixture.tensor("bn_train.running_mean_after"), rtol: forwardRtol, atol: atol,
                    "bn_train running_mean after one step")
        assertClose(runningVariance, try fixture.tensor("bn_train.running_var_after"), rtol: forwardRtol, atol: atol,
                    "bn_train running_var after one step")

        // Without the update flag, the same forward leaves the statistics alone.
        var frozenMean = try fixture.tensor("bn_train.running_mean")
        var frozenVariance = try fixture.tensor("bn_train.running_var")
        let output = batchNorm2d(Variable(try fixture.tensor("bn_train.input")), weight: Variable(try fixture.tensor("bn_train.weight")),
                                 bias: Variable(try fixture.tensor("bn_train.bias")), runningMean: &frozenMean,
                                 runningVariance: &frozenVariance, mode: .training, updateRunningStatistics: false)
        assertClose(output.value, try fixture.tensor("bn_train.output"), rtol: forwardRtol, atol: atol, "bn_train output (no update)")
        XCTAssertEqual(frozenMean.scalars, try fixture.tensor("bn_train.running_mean").scalars)
        XCTAssertEqual(frozenVariance.scalars, try fixture.tensor("bn_train.running_var").scalars)
    }

    /// Evaluation mode with trainable affine parameters (the classifier's frozen-statistics mode): gradients
    /// reach the input, γ and β; the running statistics do not move.
    func testBatchNormEvaluationWithAffineGradients() throws {
        let fixture = try fixture()
        var runningMean = try fixture.tensor("bn_eval.running_mean")
        var runningVariance = try fixture.tensor("bn_eval.running_var")
        try check("bn_eval", inputs: ["input", "weight", "bias"]) { v in
            batchNorm2d(v["input"]!, weight: v["weight"]!, bias: v["bias"]!, runningMean: &runningMean,
                        runningVariance: &runningVariance, mode: .evaluation, updateRunningStatistics: true)
        }
        XCTAssertEqual(runningMean.scalars, try fixture.tensor("bn_eval.running_mean_after").scalars)
        XCTAssertEqual(runningVariance.scalars, try fixture.tensor("bn_eval.running_var_after").scalars)
    }

    /// Evaluation mode with constant γ, β (fully frozen layer): only the input gradient flows.
    func testBatchNormEvaluationInputGradientOnly() throws {
        let fixture = try fixture()
        var runningMean = try fixture.tensor("bn_eval.running_mean")
        var runningVariance = try fixture.tensor("bn_eval.running_var")
        let tape = GradientTape()
        let input = tape.watch(try fixture.tensor("bn_eval.input"))
        let output = batchNorm2d(input, weight: Variable(try fixture.tensor("bn_eval.weight")),
                                 bias: Variable(try fixture.tensor("bn_eval.bias")), runningMean: &runningMean,
                                 runningVariance: &runningVariance, mode: .evaluation, updateRunningStatistics: false)
        assertClose(output.value, try fixture.tensor("bn_eval.output"), rtol: forwardRtol, atol: atol, "bn_eval output")
        tape.backward(from: output, seed: try fixture.tensor("bn_eval.grad_output"))
        assertClose(tape.gradient(of: input), try fixture.tensor("bn_eval.grad_input"), rtol: gradientRtol, atol: atol,
                    "bn_eval grad_input")
    }

    func testReLU() throws {
        try check("relu_a", inputs: ["input"]) { v in relu(v["input"]!) }
    }

    func testMaxPool() throws {
        for name in ["maxpool_a", "maxpool_b"] {
            try check(name, inputs: ["input"]) { v in maxPool2d(v["input"]!, kernelSize: 3, stride: 2, padding: 1) }
        }
    }

    func testUpsampleNearest() throws {
        for name in ["nearest_a", "nearest_b", "nearest_c"] {
            let settings = try config(name)
            let height = try XCTUnwrap(settings["height"] as? Int), width = try XCTUnwrap(settings["width"] as? Int)
            try check(name, inputs: ["input"]) { v in upsampleNearest(v["input"]!, height: height, width: width) }
        }
    }

    func testResizeBilinear() throws {
        for name in ["bilinear_a", "bilinear_b", "bilinear_c", "bilinear_d"] {
            let settings = try config(name)
            let height = try XCTUnwrap(settings["height"] as? Int), width = try XCTUnwrap(settings["width"] as? Int)
            try check(name, inputs: ["input"]) { v in resizeBilinear(v["input"]!, height: height, width: width) }
        }
    }

    func testFlatten() throws {
        try check("flatten_a", inputs: ["input"]) { v in flatten(v["input"]!) }
    }

    func testAdd() throws {
        try check("add_a", inputs: ["a", "b"]) { v in add(v["a"]!, v["b"]!) }
    }
}

/// Finite-difference checks of every op's backward pass on small shapes (see GradientCheck for the
/// tolerances). Inputs avoid kinks: ReLU inputs stay away from 0 and max-pool inputs have no near-ties.
final class OpGradientCheckTests: XCTestCase {
    func testConv2dGradients() {
        let configurations: [(input: [Int], weight: [Int], stride: Int, padding: Int, dilation: Int)] = [
            ([2, 2, 5, 5], [3, 2, 3, 3], 1, 1, 1), ([1, 2, 7, 6], [2, 2, 3, 3], 2, 1, 1),
            ([1, 3, 6, 6], [2, 3, 1, 1], 2, 0, 1), ([1, 2, 7, 7], [2, 2, 3, 3], 1, 2, 2),
        ]
        for (index, c) in configurations.enumerated() {
            let x = randomTensor(c.input, seed: 100, stream: "x\(index)")
            let w = randomTensor(c.weight, -0.5, 0.5, seed: 100, stream: "w\(index)")
            let b = randomTensor([c.weight[0]], seed: 100, stream: "b\(index)")
            GradientCheck().check([x, w, b]) { v in
                conv2d(v[0], weight: v[1], bias: v[2], stride: c.stride, padding: c.padding, dilation: c.dilation)
            }
        }
    }

    func testConvTransposeAndLinearGradients() {
        let x = randomTensor([2, 3, 3, 4], seed: 101), w = randomTensor([3, 2, 2, 2], seed: 102), b = randomTensor([2], seed: 103)
        GradientCheck().check([x, w, b]) { v in convTranspose2d(v[0], weight: v[1], bias: v[2], stride: 2) }
        let xl = randomTensor([3, 5], seed: 104), wl = randomTensor([4, 5], seed: 105), bl = randomTensor([4], seed: 106)
        GradientCheck().check([xl, wl, bl]) { v in linear(v[0], weight: v[1], bias: v[2]) }
    }

    func testBatchNormGradients() {
        let x = randomTensor([2, 3, 3, 4], -2, 2, seed: 107)
        let gamma = randomTensor([3], 0.5, 1.5, seed: 108), beta = randomTensor([3], seed: 109)
        for mode in [BatchNormMode.training, .evaluation] {
            GradientCheck().check([x, gamma, beta]) { v in
                var mean = Tensor(shape: [3], scalars: [0.1, -0.2, 0.3]), variance = Tensor(shape: [3], scalars: [0.8, 1.2, 0.5])
                return batchNorm2d(v[0], weight: v[1], bias: v[2], runningMean: &mean, runningVariance: &variance,
                                   mode: mode, updateRunningStatistics: false)
            }
        }
    }

    /// batch_norm with `followedByReLU` is relu(batch_norm(x)) in one op: same output, same gradients of
    /// x, γ and β, in both modes; planes of 35 values run the vector loops and their scalar tails.
    func testBatchNormFollowedByReLUEqualsTheComposition() {
        let x = randomTensor([2, 3, 5, 7], -2, 2, seed: 120)
        let gamma = randomTensor([3], 0.5, 1.5, seed: 121), beta = randomTensor([3], -0.3, 0.3, seed: 122)
        let upstream = randomTensor([2, 3, 5, 7], seed: 123)
        for mode in [BatchNormMode.training, .evaluation] {
            func run(fused: Bool) -> [Tensor] {
                let tape = GradientTape()
                let (xv, gv, bv) = (tape.watch(x), tape.watch(gamma), tape.watch(beta))
                var mean = Tensor(shape: [3], scalars: [0.1, -0.2, 0.3]), variance = Tensor(shape: [3], scalars: [0.8, 1.2, 0.5])
                let y = fused
                    ? batchNorm2d(xv, weight: gv, bias: bv, runningMean: &mean, runningVariance: &variance, mode: mode,
                                  updateRunningStatistics: false, followedByReLU: true)
                    : relu(batchNorm2d(xv, weight: gv, bias: bv, runningMean: &mean, runningVariance: &variance, mode: mode,
                                       updateRunningStatistics: false))
                tape.backward(from: y, seed: upstream)
                return [y.value, tape.gradient(of: xv)!, tape.gradient(of: gv)!, tape.gradient(of: bv)!]
            }
            let (fused, composed) = (run(fused: true), run(fused: false))
            XCTAssertGreaterThan(fused[0].scalars.filter { $0 == 0 }.count, 20, "\(mode): the ReLU must cut something")
            for (index, name) in ["output", "dx", "dγ", "dβ"].enumerated() {
                for (a, b) in zip(fused[index].scalars, composed[index].scalars) {
                    XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "\(mode) \(name)")
                }
            }
        }
    }

    func testPointwiseAndShapeGradients() {
        // ReLU: magnitudes in [0.05, 1] so that no input is within the step of the kink.
        let magnitudes = randomTensor([2, 3, 4], 0.05, 1, seed: 110).scalars
        let x = Tensor(shape: [2, 3, 4], scalars: magnitudes.enumerated().map { $0.offset % 3 == 0 ? -$0.element : $0.element })
        GradientCheck().check([x]) { v in relu(v[0]) }
        let a = randomTensor([2, 3, 2], seed: 111), b = randomTensor([2, 3, 2], seed: 112)
        GradientCheck().check([a, b]) { v in add(v[0], v[1]) }
        GradientCheck().check([randomTensor([2, 3, 2, 2], seed: 113)]) { v in flatten(v[0]) }
    }

    func testMaxPoolGradients() {
        // A shuffled ramp with spacing 0.1: every window's maximum wins by far more than the step.
        var generator = SeededGenerator(seed: 114)
        var values = (0..<(2 * 7 * 6)).map { Float($0) * 0.1 }
        generator.shuffle(&values)
        GradientCheck().check([Tensor(shape: [1, 2, 7, 6], scalars: values)]) { v in maxPool2d(v[0]) }
    }

    func testResamplingGradients() {
        let x = randomTensor([1, 2, 4, 5], seed: 115)
        for (height, width) in [(7, 9), (3, 2), (8, 10)] {
            GradientCheck().check([x]) { v in resizeBilinear(v[0], height: height, width: width) }
            GradientCheck().check([x]) { v in upsampleNearest(v[0], height: height, width: width) }
        }
    }
}
