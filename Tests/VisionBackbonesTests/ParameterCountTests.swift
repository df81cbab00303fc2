import NeuralNetwork
import TensorCore
import VisionBackbones
import XCTest

/// Component sizes from spec §2.4, which were computed from the architecture (and match torchvision's
/// state-dict element counts for the same modules).
final class ParameterCountTests: XCTestCase {
    func build(_ depth: ResNetDepth, _ truncation: Int) -> (body: Int, fpn: Int, store: ParameterStore) {
        let store = ParameterStore()
        var generator = SeededGenerator(seed: 1)
        _ = ResNetFPNBackbone(ParameterScope(store: store, prefix: "backbone"),
                              configuration: BackboneConfiguration(depth: depth, truncation: truncation),
                              generator: &generator)
        let body = store.trainableParameters.filter { $0.name.hasPrefix("backbone.body.") }.reduce(0) { $0 + $1.value.count }
        let fpn = store.trainableParameters.filter { $0.name.hasPrefix("backbone.fpn.") }.reduce(0) { $0 + $1.value.count }
        return (body, fpn, store)
    }

    func testBodyAndFPNSizesMatchSpec() {
        let expected: [(ResNetDepth, Int, Int, Int)] = [
            (.resnet18, 0, 11_176_512, 721_408), (.resnet18, 1, 2_782_784, 655_872), (.resnet18, 2, 683_072, 623_104),
            (.resnet34, 0, 21_284_672, 721_408), (.resnet34, 1, 8_170_304, 655_872), (.resnet34, 2, 1_347_904, 623_104),
            (.resnet50, 0, 23_508_032, 3_344_384),
        ]
        for (depth, truncation, body, fpn) in expected {
            let counts = build(depth, truncation)
            XCTAssertEqual(counts.body, body, "\(depth) t\(truncation) body")
            XCTAssertEqual(counts.fpn, fpn, "\(depth) t\(truncation) fpn")
        }
    }

    func testStateDictKeysFollowTorchvision() {
        let store = build(.resnet18, 1).store
        for key in ["backbone.body.conv1.weight", "backbone.body.bn1.running_mean", "backbone.body.layer1.0.conv1.weight",
                    "backbone.body.layer2.0.downsample.0.weight", "backbone.body.layer2.0.downsample.1.running_var",
                    "backbone.body.layer3.1.bn2.bias", "backbone.fpn.inner_blocks.0.weight",
                    "backbone.fpn.layer_blocks.0.bias"] {
            XCTAssertNotNil(store[key], key)
        }
        XCTAssertNil(store["backbone.body.layer4.0.conv1.weight"], "truncation 1 drops layer4")
        XCTAssertNotNil(store.integerBuffers["backbone.body.layer1.0.bn1.num_batches_tracked"])
        XCTAssertEqual(store["backbone.fpn.inner_blocks.0.weight"]?.value.shape, [256, 256, 1, 1])
    }

    func testFeatureMapShapes() {
        let cases: [(ResNetDepth, Int, [[Int]])] = [
            (.resnet18, 1, [[1, 256, 4, 4]]), (.resnet18, 0, [[1, 256, 2, 2]]), (.resnet34, 2, [[1, 256, 8, 8]]),
            (.resnet50, 0, [[1, 256, 16, 16], [1, 256, 8, 8], [1, 256, 4, 4], [1, 256, 2, 2]]),
        ]
        for (depth, truncation, shapes) in cases {
            let store = ParameterStore()
            var generator = SeededGenerator(seed: 2)
            let backbone = ResNetFPNBackbone(ParameterScope(store: store, prefix: "backbone"),
                                             configuration: BackboneConfiguration(depth: depth, truncation: truncation),
                                             generator: &generator)
            var input = Tensor(shape: [1, 3, 64, 64])
            input.withUnsafeMutableBufferPointer { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
            let levels = backbone(Variable(input), .inference)
            XCTAssertEqual(levels.map(\.shape), shapes, "\(depth) t\(truncation)")
        }
    }
}
