import NeuralNetwork
import ObjectDetection
import TensorCore
import TestSupport
import XCTest

/// MultiScaleRoIAlign against the seed's pooler computed explicitly in the fixture script (0.3.0 level
/// mapper, torchvision 0.29 roi_align aligned=False per level). Tolerances: forward rtol 1e-4 /
/// atol 1e-5, gradients rtol 1e-3 / atol 1e-4.
final class MultiScaleRoIAlignTests: XCTestCase {
    func testLevelMapperBoundaries() {
        let mapper = LevelMapper(kMin: 2, kMax: 5)
        func level(_ side: Float) -> Int { mapper(boxes([[0, 0, side, side]]))[0] }
        XCTAssertEqual(level(1), 0)
        XCTAssertEqual(level(111.9), 0, "below 112 → P2")
        XCTAssertEqual(level(112), 1, "112 → P3")
        XCTAssertEqual(level(111.99985), 1, "seed puts eps inside log2: P3 (torchvision ≥ 0.4 says P2)")
        XCTAssertEqual(level(223.9), 1)
        XCTAssertEqual(level(224), 2, "224 → P4")
        XCTAssertEqual(level(447.9), 2)
        XCTAssertEqual(level(448), 3, "448 → P5")
        XCTAssertEqual(level(2000), 3, "clamped at kMax")
        XCTAssertEqual(mapper(boxes([[5, 5, 5, 5]])), [0], "zero area → finest")
    }

    func testScaleInference() {
        XCTAssertEqual(MultiScaleRoIAlign.inferScale(featureSize: 128, imageSize: 512), 0.25)
        XCTAssertEqual(MultiScaleRoIAlign.inferScale(featureSize: 16, imageSize: 500), 1.0 / 32)
        XCTAssertEqual(MultiScaleRoIAlign.inferScale(featureSize: 13, imageSize: 400), 1.0 / 32)
        XCTAssertEqual(MultiScaleRoIAlign.inferScale(featureSize: 64, imageSize: 512), 0.125)
    }

    func testParityWithSeedPooler() throws {
        let fixture = try Fixture("multiscale_roi_align")
        let tape = GradientTape()
        let levels = (0..<4).map { tape.watch(fixture.tensor("feature\($0)")) }
        let rois = fixture.tensor("boxes")
        XCTAssertEqual(LevelMapper(kMin: 2, kMax: 5)(rois), fixture.integers("levels"))
        let pooler = MultiScaleRoIAlign(outputSize: 7, samplingRatio: 2)
        let output = pooler(levels, rois: rois, batchIndices: [Int](repeating: 0, count: rois.shape[0]),
                            imageHeight: 512, imageWidth: 512)
        XCTAssertEqual(pooler.levelScales, [0.25, 0.125, 0.0625, 0.03125])
        assertClose(output.value, fixture.tensor("output"), rtol: 1e-4, atol: 1e-5, "multi-scale forward")
        tape.backward(from: output, seed: fixture.tensor("upstream"))
        for level in 0..<4 {
            assertClose(tape.gradient(of: levels[level])!, fixture.tensor("gradient\(level)"), rtol: 1e-3, atol: 1e-4,
                        "level \(level) gradient")
        }
    }

    func testSingleLevelIsPlainRoIAlignAndScalesAreCached() {
        let feature = randomTensor([2, 3, 16, 16], seed: 11)
        let rois = boxes([[3, 4, 100, 90], [0, 0, 128, 128], [60, 10, 70, 12]])
        let pooler = MultiScaleRoIAlign(outputSize: 7, samplingRatio: 2)
        let pooled = pooler([Variable(feature)], rois: rois, batchIndices: [1, 0, 1], imageHeight: 128, imageWidth: 120)
        let plain = RoIAlignKernels.forward(features: feature, rois: rois, batchIndices: [1, 0, 1], outputHeight: 7,
                                            outputWidth: 7, spatialScale: 0.125, samplingRatio: 2)
        XCTAssertEqual(pooled.value.scalars, plain.scalars)
        // A later call with other image sizes keeps the first call's scales, as the seed does.
        _ = pooler([Variable(feature)], rois: rois, batchIndices: [0, 0, 0], imageHeight: 64, imageWidth: 64)
        XCTAssertEqual(pooler.levelScales, [0.125])
    }
}
