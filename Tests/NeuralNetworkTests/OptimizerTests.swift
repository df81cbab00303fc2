import Foundation
import NeuralNetwork
import TensorCore
import TestSupport
import XCTest

/// Adam, AdamW and SGD against PyTorch trajectories (fixture optimizers.safetensors: two parameters, four
/// steps with given gradients, p2 without a gradient in step 2), compared within 1e-6 relative (atol 1e-7
/// for entries near zero); plus exact resumption from exported state.
final class OptimizerTests: XCTestCase {
    private let names = ["p1", "p2"]

    private func makeParameters(_ fixture: SafeTensorsFile) throws -> [Parameter] {
        try names.map { Parameter(name: $0, value: try fixture.tensor("initial.\($0)")) }
    }

    private func makeOptimizer(_ config: String, _ fixture: SafeTensorsFile, _ parameters: [Parameter]) throws -> Optimizer {
        let settings = fixture.jsonMetadata(config)
        let lr = try XCTUnwrap(settings["lr"] as? Double)
        switch settings["class"] as? String {
        case "Adam", "AdamW":
            let betas = (settings["betas"] as? [Double]) ?? [0.9, 0.999]
            return Adam(parameters: parameters, learningRate: lr, betas: (betas[0], betas[1]),
                        epsilon: (settings["eps"] as? Double) ?? 1e-8,
                        weightDecay: (settings["weight_decay"] as? Double) ?? 0,
                        decoupledWeightDecay: settings["class"] as? String == "AdamW")
        case "SGD":
            return SGD(parameters: parameters, learningRate: lr, momentum: (settings["momentum"] as? Double) ?? 0,
                       weightDecay: (settings["weight_decay"] as? Double) ?? 0,
                       nesterov: (settings["nesterov"] as? Bool) ?? false)
        default:
            XCTFail("unknown optimizer config \(config): \(settings)")
            throw OptimizerStateError(file: "optimizers", problems: ["unknown config"])
        }
    }

    private func setGradients(step: Int, _ parameters: [Parameter], _ fixture: SafeTensorsFile) {
        for parameter in parameters {
            parameter.gradient = fixture.tensors["grad.\(step).\(parameter.name)"]
        }
    }

    private func runTrajectory(_ config: String) throws {
        let fixture = try loadFixture("optimizers")
        let parameters = try makeParameters(fixture)
        let optimizer = try makeOptimizer(config, fixture, parameters)
        let steps = Int(fixture.metadata["steps"] ?? "") ?? 0
        XCTAssertEqual(steps, 4)
        XCTAssertNil(fixture.tensors["grad.2.p2"], "the fixture must skip p2 in step 2")
        for step in 0..<steps {
            setGradients(step: step, parameters, fixture)
            optimizer.step()
            for parameter in parameters {
                assertClose(parameter.value, try fixture.tensor("\(config).\(parameter.name).after.\(step)"),
                            rtol: 1e-6, atol: 1e-7, "\(config) \(parameter.name) after step \(step)")
            }
        }
        let state = optimizer.exportState()
        for parameter in parameters {
            for field in ["exp_avg", "exp_avg_sq", "momentum_buffer"] {
                if let expected = fixture.tensors["\(config).\(parameter.name).\(field)"] {
                    assertClose(state.tensors["\(parameter.name).\(field)"], expected, rtol: 1e-6, atol: 1e-9,
                                "\(config) \(parameter.name) \(field)")
                }
            }
            if let expected = fixture.integerTensors["\(config).\(parameter.name).step"] {
                XCTAssertEqual(state.integerTensors["\(parameter.name).step"], expected, "\(config) \(parameter.name) step")
            }
        }
        XCTAssertEqual(Set(state.names).count,
                       fixture.names.filter { $0.hasPrefix(config + ".") && !$0.contains(".after.") }.count,
                       "\(config): exported state has exactly PyTorch's entries")
    }

    func testAdamMatchesPyTorch() throws { try runTrajectory("adam") }
    func testAdamWithoutDecayMatchesPyTorch() throws { try runTrajectory("adam_nodecay") }
    func testAdamWMatchesPyTorch() throws { try runTrajectory("adamw") }
    func testSGDMomentumMatchesPyTorch() throws { try runTrajectory("sgd") }
    func testSGDNesterovMatchesPyTorch() throws { try runTrajectory("sgd_nesterov") }
    func testPlainSGDMatchesPyTorch() throws { try runTrajectory("sgd_plain") }

    /// Two steps, export to a file, import into a fresh optimizer over fresh parameters, two more steps:
    /// identical bits to four uninterrupted steps.
    func testResumeFromExportedStateIsExact() throws {
        let fixture = try loadFixture("optimizers")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-opt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for config in ["adam", "adamw", "sgd"] {
            let straight = try makeParameters(fixture)
            let straightOptimizer = try makeOptimizer(config, fixture, straight)
            for step in 0..<4 { setGradients(step: step, straight, fixture); straightOptimizer.step() }

            let first = try makeParameters(fixture)
            let firstOptimizer = try makeOptimizer(config, fixture, first)
            for step in 0..<2 { setGradients(step: step, first, fixture); firstOptimizer.step() }
            let url = directory.appendingPathComponent("\(config).safetensors")
            let weights = SafeTensorsFile(tensors: Dictionary(uniqueKeysWithValues: first.map { ($0.name, $0.value) }))
            try weights.merging(firstOptimizer.exportState(), prefix: "optimizer.").write(to: url)

            let restoredFile = try SafeTensorsFile.read(url)
            let second = try names.map { Parameter(name: $0, value: try restoredFile.tensor($0)) }
            let secondOptimizer = try makeOptimizer(config, fixture, second)
            try secondOptimizer.importState(restoredFile.subset(prefix: "optimizer."))
            for step in 2..<4 { setGradients(step: step, second, fixture); secondOptimizer.step() }
            for (a, b) in zip(straight, second) {
                XCTAssertEqual(a.value.scalars, b.value.scalars, "\(config) \(a.name) after resume")
            }
        }
    }

    func testImportRejectsForeignState() throws {
        let p = Parameter(name: "w", value: Tensor(shape: [2], scalars: [1, 2]))
        let adam = Adam(parameters: [p], learningRate: 0.1)
        let bad = SafeTensorsFile(tensors: ["w.exp_avg": Tensor(shape: [3]), "w.exp_avg_sq": Tensor(shape: [3]),
                                            "other.exp_avg": Tensor(shape: [1])],
                                  integerTensors: ["w.step": IntegerTensor(scalar: 1)],
                                  metadata: ["optimizer": "Adam"], source: "ckpt.safetensors")
        XCTAssertThrowsError(try adam.importState(bad)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("ckpt.safetensors") && text.contains("w: state shapes")
                          && text.contains("other.exp_avg"), text)
        }
        let sgdState = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9).exportState()
        XCTAssertThrowsError(try adam.importState(sgdState)) { error in
            XCTAssertTrue("\(error)".contains("written by SGD"), "\(error)")
        }
    }

    func testParametersWithoutGradientAreUntouched() {
        let frozen = Parameter(name: "frozen", value: Tensor(shape: [3], scalars: [1, 2, 3]))
        let live = Parameter(name: "live", value: Tensor(shape: [1], scalars: [1]))
        live.gradient = Tensor(shape: [1], scalars: [0.5])
        let adam = Adam(parameters: [frozen, live], learningRate: 0.1, weightDecay: 0.1, decoupledWeightDecay: true)
        adam.step()
        XCTAssertEqual(frozen.value.scalars, [1, 2, 3])
        XCTAssertEqual(adam.stepCount(of: frozen), 0)
        XCTAssertEqual(adam.stepCount(of: live), 1)
        XCTAssertNotEqual(live.value.scalars, [1])
        adam.zeroGradients()
        XCTAssertNil(live.gradient)
    }

    /// The update of a large tensor runs in parallel chunks; it must equal a chunk-free reference.
    func testLargeTensorUpdateMatchesElementwiseReference() {
        let count = 300_000
        let value = randomTensor([count], seed: 11), gradient = randomTensor([count], seed: 12)
        let p = Parameter(name: "big", value: value)
        p.gradient = gradient
        let adam = Adam(parameters: [p], learningRate: 1e-3, weightDecay: 1e-3)
        adam.step()
        let stepSize = Float(1e-3 / (1 - 0.9))
        let root = Float((1 - 0.999).squareRoot())
        let expected = zip(value.scalars, gradient.scalars).map { (x: Float, g0: Float) -> Float in
            let g = g0 + Float(1e-3) * x
            let m = Float(0) + Float(1 - 0.9) * (g - 0)
            let v = Float(0) * Float(0.999) + Float(1 - 0.999) * g * g
            return x + (-stepSize * m) / (v.squareRoot() / root + Float(1e-8))
        }
        XCTAssertEqual(p.value.scalars, expected)
    }
}
