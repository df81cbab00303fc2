import Foundation
import NeuralNetwork
import TensorCore
import TestSupport
import VisionBackbones
import XCTest

/// ResNet18 truncation 1 + FPN against torchvision (Fixtures/README.md says how the fixture was made):
/// forward rtol 1e-4, gradients rtol 1e-3, each with atol = 1e-5 · max|expected| of the tensor
/// (element-wise rtol alone is meaningless for the few entries near zero).
final class BackboneFixtureTests: XCTestCase {
    /// The shared `assertClose` with atol = 1e-5 · max|expected| (see above).
    func assertClose(_ actual: Tensor, _ expected: Tensor, rtol: Float, _ name: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        TestSupport.assertClose(actual, expected, rtol: rtol, atol: 1e-5 * (expected.scalars.map(abs).max() ?? 0), name,
                                file: file, line: line)
    }

    func testForwardBackwardAndRunningStatisticsMatchTorchvision() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "resnet18_t1_fpn", withExtension: "safetensors",
                                                  subdirectory: "Fixtures"))
        let file = try SafeTensorsFile.read(url)
        let store = ParameterStore()
        var unused = SeededGenerator(seed: 0)
        let backbone = ResNetFPNBackbone(ParameterScope(store: store, prefix: "backbone"),
                                         configuration: BackboneConfiguration(depth: .resnet18, truncation: 1),
                                         generator: &unused)
        // Regenerate the fixture's weights with its rule (our generator, ported bit-exactly to Python).
        let seed = UInt64(try XCTUnwrap(file.metadata["seed"]))!
        let rules = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(file.metadata["weights"]).utf8))
            as? [String: [Any]])
        XCTAssertEqual(Set(rules.keys), Set(store.parameters.map(\.name)))
        for (key, rule) in rules {
            let parameter = try XCTUnwrap(store[key], key)
            let normal = (rule[0] as? String) == "normal"
            let a = Float(rule[1] as! Double), b = Float(rule[2] as! Double)
            var generator = SeededGenerator(seed: seed, stream: key)
            parameter.value = Tensor(shape: parameter.value.shape) { buffer in
                for i in 0..<buffer.count { buffer[i] = a + b * (normal ? generator.nextNormal() : generator.nextUniform()) }
            }
            let probe = try XCTUnwrap(file.tensors["probe." + key])
            XCTAssertEqual(Array(parameter.value.scalars.prefix(probe.count)), probe.scalars, "regenerated \(key)")
        }
        let tape = GradientTape()
        let input = tape.watch(try XCTUnwrap(file.tensors["input"]))
        let output = backbone(input, .training(tape: tape))
        XCTAssertEqual(output.count, 1)
        assertClose(output[0].value, try XCTUnwrap(file.tensors["output"]), rtol: 1e-4, "output")
        tape.backward(from: output[0], seed: try XCTUnwrap(file.tensors["grad_output"]))
        assertClose(try XCTUnwrap(tape.gradient(of: input)), try XCTUnwrap(file.tensors["grad_input"]), rtol: 1e-3, "grad_input")
        for (name, expected) in file.tensors where name.hasPrefix("grad.") {
            let key = String(name.dropFirst(5))
            assertClose(try XCTUnwrap(store[key]?.gradient, key), expected, rtol: 1e-3, name)
        }
        for (name, expected) in file.tensors where name.hasPrefix("after.") {
            assertClose(try XCTUnwrap(store[String(name.dropFirst(6))]?.value), expected, rtol: 1e-4, name)
        }
        for (name, expected) in file.integerTensors where name.hasPrefix("after.") {
            XCTAssertEqual(store.integerBuffers[String(name.dropFirst(6))], expected.scalars.first, name)
        }
    }
}
