import Foundation
import NeuralNetwork
import TensorCore
import XCTest

/// ParameterStore ⇄ safetensors: state dictionaries, strict and non-strict loads, one error listing every
/// missing, unexpected and mis-shaped tensor.
final class CheckpointTests: XCTestCase {
    private func makeStore(convChannels: Int = 4, extra: Bool = false) -> ParameterStore {
        let store = ParameterStore()
        let scope = ParameterScope(store: store, prefix: "backbone.body")
        var generator = SeededGenerator(seed: 3)
        scope.register("conv1.weight", Initialization.kaimingNormalFanOut([convChannels, 3, 3, 3], using: &generator))
        scope.child("bn1").register("weight", Tensor.ones([convChannels]))
        scope.child("bn1").register("bias", Tensor.zeros([convChannels]))
        scope.child("bn1").register("running_mean", Tensor.zeros([convChannels]), trainable: false)
        scope.child("bn1").register("running_var", Tensor.ones([convChannels]), trainable: false)
        store.registerInteger("backbone.body.bn1.num_batches_tracked", 0)
        if extra { scope.register("fc.weight", Tensor.ones([2, 2])) }
        return store
    }

    func testStateDictionaryRoundTrip() throws {
        let source = makeStore()
        source["backbone.body.bn1.running_mean"]!.value = Tensor(shape: [4], scalars: [1, 2, 3, 4])
        source.integerBuffers["backbone.body.bn1.num_batches_tracked"] = 12
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-ckpt-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try source.saveCheckpoint(to: url, metadata: ["backbone": "resnet18", "truncation": "1"])

        let target = makeStore()
        target["backbone.body.conv1.weight"]!.value = Tensor.zeros([4, 3, 3, 3])
        let (metadata, report) = try target.loadCheckpoint(from: url)
        XCTAssertEqual(metadata, ["backbone": "resnet18", "truncation": "1"])
        XCTAssertEqual(report.missing, [])
        XCTAssertEqual(report.unexpected, [])
        XCTAssertEqual(report.loaded.count, 6)
        for parameter in source.parameters {
            XCTAssertEqual(target[parameter.name]?.value.scalars, parameter.value.scalars, parameter.name)
        }
        XCTAssertEqual(target.integerBuffers["backbone.body.bn1.num_batches_tracked"], 12)
        let file = try SafeTensorsFile.read(url)
        XCTAssertEqual(file.integerTensors["backbone.body.bn1.num_batches_tracked"], IntegerTensor(scalar: 12))
    }

    func testStrictLoadListsEveryProblemAndChangesNothing() throws {
        var file = makeStore(convChannels: 8).stateDictionary()
        file.source = "/ckpt/model.safetensors"
        file.tensors["backbone.body.bn1.bias"] = nil                      // missing
        file.tensors["backbone.body.layer9.weight"] = Tensor.zeros([1])   // unexpected
        file.integerTensors["backbone.body.bn1.num_batches_tracked"] = nil
        file.tensors["backbone.body.bn1.num_batches_tracked"] = Tensor.zeros([])  // wrong kind
        let target = makeStore(convChannels: 4, extra: true)
        let before = target.parameters.map(\.value.scalars)
        XCTAssertThrowsError(try target.load(from: file, strict: true)) { error in
            guard let mismatch = error as? CheckpointMismatchError else { return XCTFail("\(error)") }
            XCTAssertEqual(mismatch.file, "/ckpt/model.safetensors")
            XCTAssertEqual(mismatch.missing, ["backbone.body.bn1.bias", "backbone.body.fc.weight"])
            XCTAssertEqual(mismatch.unexpected, ["backbone.body.layer9.weight"])
            XCTAssertEqual(mismatch.misshaped.map(\.name), [
                "backbone.body.conv1.weight", "backbone.body.bn1.weight", "backbone.body.bn1.running_mean",
                "backbone.body.bn1.running_var", "backbone.body.bn1.num_batches_tracked",
            ])
            let text = mismatch.description
            for word in ["/ckpt/model.safetensors", "missing (2)", "unexpected (1)", "mis-shaped (5)",
                         "backbone.body.conv1.weight (model F32 [4, 3, 3, 3], file F32 [8, 3, 3, 3])",
                         "backbone.body.bn1.num_batches_tracked (model I64 [], file F32 [])"] {
                XCTAssertTrue(text.contains(word), "'\(text)' lacks \(word)")
            }
        }
        XCTAssertEqual(target.parameters.map(\.value.scalars), before, "a failed load changes nothing")
    }

    func testNonStrictLoadCopiesTheOverlap() throws {
        var file = makeStore().stateDictionary()
        file.tensors["backbone.body.conv1.weight"] = Tensor(shape: [4, 3, 3, 3], repeating: 0.5)
        file.tensors["roi_heads.box_predictor.cls_score.weight"] = Tensor.zeros([3, 8])
        let target = makeStore(extra: true)
        let report = try target.load(from: file, strict: false)
        XCTAssertEqual(report.missing, ["backbone.body.fc.weight"])
        XCTAssertEqual(report.unexpected, ["roi_heads.box_predictor.cls_score.weight"])
        XCTAssertEqual(target["backbone.body.conv1.weight"]?.value.scalars, Array(repeating: 0.5, count: 108))
        XCTAssertThrowsError(try target.load(from: file, strict: true))

        // Mis-shaped tensors are an error even without strict, as in PyTorch.
        file.tensors["backbone.body.bn1.weight"] = Tensor.zeros([5])
        XCTAssertThrowsError(try target.load(from: file, strict: false)) { error in
            XCTAssertEqual((error as? CheckpointMismatchError)?.misshaped.map(\.name), ["backbone.body.bn1.weight"])
            XCTAssertEqual((error as? CheckpointMismatchError)?.missing, [])
        }
    }

    func testLoadingMissingCheckpointNamesTheFile() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/epoch10.safetensors")
        XCTAssertThrowsError(try makeStore().loadCheckpoint(from: url)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .fileNotFound(file: url.path))
        }
    }
}
