import Foundation
import MaskNetWorkflows
import NeuralNetwork
import ObjectDetection
import TensorCore
import VisionBackbones
import XCTest

/// "A model saved from torchvision with the seed's architecture loads and gives the same detections":
/// the seed's light model (R18-t1, merge) built from torchvision 0.29 parts, converted by
/// Tools/convert_checkpoint.py, and its inference with the seed's behaviour (see
/// Tools/make_torchvision_model_fixture.py and Fixtures/README.md). Boxes and scores within rtol 1e-3,
/// labels equal, pasted mask logits within 1e-3 · max|expected| + 1e-3 · |expected|.
final class TorchvisionModelFixtureTests: XCTestCase {
    func fixture() throws -> SafeTensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "torchvision_r18_t1", withExtension: "safetensors",
                                                  subdirectory: "Fixtures"))
        return try SafeTensorsFile.read(url)
    }

    /// The converted checkpoint rebuilt from the fixture: the converter's header (names, dtypes, shapes) and
    /// metadata, with the weights regenerated from their seeded rules.
    func convertedCheckpoint(_ file: SafeTensorsFile) throws -> SafeTensorsFile {
        let metadata = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try XCTUnwrap(file.metadata["checkpoint_metadata"]).utf8)) as? [String: String])
        let header = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try XCTUnwrap(file.metadata["checkpoint_header"]).utf8)) as? [String: [Any]])
        let rules = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try XCTUnwrap(file.metadata["weights"]).utf8)) as? [String: [Any]])
        let seed = UInt64(try XCTUnwrap(file.metadata["seed"]))!
        let batches = Int64(try XCTUnwrap(file.metadata["num_batches_tracked"]))!
        var checkpoint = SafeTensorsFile(metadata: metadata, source: "converted torchvision_r18_t1")
        for (key, entry) in header {
            let dtype = entry[0] as! String, shape = (entry[1] as! [Any]).map { ($0 as! NSNumber).intValue }
            if dtype == "torch.int64" || dtype == "I64" {
                XCTAssertEqual(shape, [], "\(key) is an I64 scalar")
                checkpoint.integerTensors[key] = IntegerTensor(scalar: batches)
                continue
            }
            XCTAssertTrue(dtype == "torch.float32" || dtype == "F32", "\(key) has dtype \(dtype)")
            let rule = try XCTUnwrap(rules[key], "no weight rule for \(key)")
            let normal = (rule[0] as? String) == "normal"
            let a = Float((rule[1] as! NSNumber).doubleValue), b = Float((rule[2] as! NSNumber).doubleValue)
            let offsets = rule.count > 3 ? (rule[3] as! [NSNumber]).map { Float($0.doubleValue) } : nil
            var generator = SeededGenerator(seed: seed, stream: key)
            let value = Tensor(shape: shape) { buffer in
                for i in 0..<buffer.count {
                    var v = a + b * (normal ? generator.nextNormal() : generator.nextUniform())
                    if let offsets { v += offsets[i] }
                    buffer[i] = v
                }
            }
            let probe = try XCTUnwrap(file.tensors["probe." + key], key)
            XCTAssertEqual(Array(value.scalars.prefix(probe.count)), probe.scalars, "regenerated \(key)")
            checkpoint.tensors[key] = value
        }
        return checkpoint
    }

    func testConverterMetadataMatchesTheSwiftEncoding() throws {
        let file = try fixture()
        let metadata = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try XCTUnwrap(file.metadata["checkpoint_metadata"]).utf8)) as? [String: String])
        let configuration = try XCTUnwrap(MaskRCNNConfiguration.from(metadata: metadata))
        var expected = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1), maskType: .merge)
        expected.minSize = 64
        XCTAssertEqual(configuration, expected)
        // Every key of metadata() is written with the bytes Swift writes, plus provenance keys. The configuration
        // JSON is compared as JSON: Swift's encoder writes object keys in hash order, the converter sorts them;
        // numbers are formatted alike (shortest Float repr, no trailing ".0").
        for (key, value) in configuration.metadata() where key != "configuration" {
            XCTAssertEqual(metadata[key], value, key)
        }
        let ours = try JSONSerialization.jsonObject(with: Data(configuration.metadata()["configuration"]!.utf8)) as! NSDictionary
        let converted = try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(metadata["configuration"]).utf8)) as! NSDictionary
        XCTAssertEqual(ours, converted)
        let numbers = try XCTUnwrap(metadata["configuration"])
        XCTAssertTrue(numbers.contains("\"aspectRatios\":[0.1,0.25,0.5,1,1.5,2]") && numbers.contains("\"imageStd\":[0.229,0.224,0.225]"),
                      "Float formatting as Swift's JSONEncoder: \(numbers)")
        XCTAssertEqual(metadata["epoch"], "12")
        XCTAssertEqual(metadata["model_name"], "fixture_r18_t1")
    }

    func testConvertedFullModelHasOurNamesAndShapes() throws {
        // ResNet50 + 4-level FPN + four-conv mask head, mask type both, built from torchvision parts and converted:
        // the converter's tensor names, dtypes and shapes are exactly our model's state.
        let file = try fixture()
        let metadata = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try XCTUnwrap(file.metadata["full_checkpoint_metadata"]).utf8)) as? [String: String])
        let header = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try XCTUnwrap(file.metadata["full_checkpoint_header"]).utf8)) as? [String: [Any]])
        let configuration = try XCTUnwrap(MaskRCNNConfiguration.from(metadata: metadata))
        XCTAssertEqual(configuration, MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet50, truncation: 0),
                                                            maskType: .both))
        let model = MaskRCNN(configuration: configuration, seed: 0)
        var ours: [String: String] = [:]
        for parameter in model.parameters.parameters { ours[parameter.name] = "F32 \(parameter.value.shape)" }
        for name in model.parameters.integerBufferNames { ours[name] = "I64 []" }
        var converted: [String: String] = [:]
        for (key, entry) in header {
            let dtype = (entry[0] as! String).contains("64") ? "I64" : "F32"
            converted[key] = "\(dtype) \((entry[1] as! [Any]).map { ($0 as! NSNumber).intValue })"
        }
        XCTAssertEqual(Set(converted.keys).subtracting(ours.keys).sorted(), [], "converted keys our model lacks")
        XCTAssertEqual(Set(ours.keys).subtracting(converted.keys).sorted(), [], "our keys the converter did not write")
        for (key, value) in ours where converted[key] != nil { XCTAssertEqual(converted[key], value, key) }
    }

    func testConvertedTorchvisionModelGivesTheSameDetections() throws {
        let file = try fixture()
        let checkpoint = try convertedCheckpoint(file)
        let configuration = try XCTUnwrap(MaskRCNNConfiguration.from(metadata: checkpoint.metadata))
        let model = MaskRCNN(configuration: configuration, seed: 0)
        try model.parameters.load(from: checkpoint, strict: true)
        XCTAssertEqual(model.parameters.integerBuffers["backbone.body.bn1.num_batches_tracked"], 7)

        let detections = model.detect(image: try XCTUnwrap(file.tensors["input"]))
        let expectedScores = try XCTUnwrap(file.tensors["scores"]).scalars
        let expectedLabels = try XCTUnwrap(file.integerTensors["labels"]).scalars.map(Int.init)
        XCTAssertEqual(detections.labels.count, expectedLabels.count, "detection count")
        XCTAssertEqual(detections.boxes.shape, [detections.labels.count, 4])
        // Match each reference detection to ours: same label, score and all four coordinates within tolerance.
        // Scores that differ by less than float noise may come out in either order, so the match is by value;
        // `inOrder` says how many sit at the same index.
        let boxes = detections.boxes.scalars, expectedBoxes = try XCTUnwrap(file.tensors["boxes"]).scalars
        func close(_ a: Float, _ e: Float, _ atol: Float) -> Bool { abs(a - e) <= 1e-3 * abs(e) + atol }
        var used = Set<Int>(), match = [Int](repeating: -1, count: expectedLabels.count), inOrder = 0
        for i in expectedLabels.indices {
            let candidates = [i] + Array(detections.labels.indices)
            guard let j = candidates.first(where: { j in
                j < detections.labels.count && !used.contains(j) && detections.labels[j] == expectedLabels[i]
                    && close(detections.scores[j], expectedScores[i], 1e-6)
                    && (0..<4).allSatisfy { close(boxes[4 * j + $0], expectedBoxes[4 * i + $0], 1e-3) }
            }) else {
                XCTFail("reference detection \(i) (label \(expectedLabels[i]), score \(expectedScores[i]), box "
                        + "\(Array(expectedBoxes[(4 * i)..<(4 * i + 4)]))) has no counterpart")
                continue
            }
            used.insert(j)
            match[i] = j
            if j == i { inOrder += 1 }
        }
        XCTAssertGreaterThanOrEqual(inOrder, expectedLabels.count - 4, "detections should come in the reference order")
        let expectedMasks = try XCTUnwrap(file.tensors["masks"])
        let stored = expectedMasks.shape[0], plane = expectedMasks.shape[1] * expectedMasks.shape[2]
        XCTAssertEqual(Array(detections.masks.shape.dropFirst()), Array(expectedMasks.shape.dropFirst()))
        let masks = detections.masks.scalars, expected = expectedMasks.scalars
        let scale = expected.map(abs).max() ?? 0
        var worst: Float = 0, differing = 0
        for i in 0..<(stored * plane) {
            let ours = match[i / plane]
            guard ours >= 0 else { continue }
            let excess = abs(masks[ours * plane + i % plane] - expected[i]) - (1e-3 * scale + 1e-3 * abs(expected[i]))
            if excess > 0 { differing += 1 }
            worst = max(worst, excess)
        }
        XCTAssertEqual(differing, 0, "pasted mask logits: \(differing) values exceed the tolerance, worst by \(worst)")
        var scoreError: Float = 0, boxError: Float = 0, maskError: Float = 0
        for (i, j) in match.enumerated() where j >= 0 {
            scoreError = max(scoreError, abs(detections.scores[j] - expectedScores[i]) / expectedScores[i])
            for k in 0..<4 { boxError = max(boxError, abs(boxes[4 * j + k] - expectedBoxes[4 * i + k])) }
        }
        for i in 0..<(stored * plane) where match[i / plane] >= 0 {
            maskError = max(maskError, abs(masks[match[i / plane] * plane + i % plane] - expected[i]))
        }
        print("torchvision parity: \(expectedLabels.count) detections, \(inOrder) in the reference order; max relative score "
              + "error \(scoreError), max box error \(boxError) px, max pasted-logit error \(maskError) (max |logit| \(scale))")
    }
}
