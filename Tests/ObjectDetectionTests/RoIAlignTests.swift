import NeuralNetwork
import ObjectDetection
import TensorCore
import TestSupport
import XCTest

/// Legacy RoIAlign against torchvision 0.29 `roi_align(aligned=False)` (the seed's kernel), forward
/// and backward, plus a finite-difference check of the backward. Tolerances: forward rtol 1e-4 /
/// atol 1e-5, gradients rtol 1e-3 / atol 1e-4.
final class RoIAlignTests: XCTestCase {
    func testParityWithTorchvision() throws {
        let fixture = try Fixture("roi_align")
        let features = fixture.tensor("features"), rois = fixture.tensor("rois")
        let batch = fixture.integers("batch_indices")
        for tag in ["sr2", "adaptive", "adaptive_scale1"] {
            let p = fixture.tensor("\(tag)_params").scalars
            let (oh, ow, scale, ratio) = (Int(p[0]), Int(p[1]), p[2], Int(p[3]))
            let output = RoIAlignKernels.forward(features: features, rois: rois, batchIndices: batch, outputHeight: oh,
                                                 outputWidth: ow, spatialScale: scale, samplingRatio: ratio)
            assertClose(output, fixture.tensor("\(tag)_output"), rtol: 1e-4, atol: 1e-5, "\(tag) forward")
            let gradient = RoIAlignKernels.backward(outputGradient: fixture.tensor("\(tag)_upstream"),
                                                    featureShape: features.shape, rois: rois, batchIndices: batch,
                                                    spatialScale: scale, samplingRatio: ratio)
            assertClose(gradient, fixture.tensor("\(tag)_gradient"), rtol: 1e-3, atol: 1e-4, "\(tag) backward")
        }
    }

    func testHandCaseSinglePixelBins() {
        // Box [0, 0, 2, 2], output 2×2, one sample per bin: the samples sit at the bin centres
        // (0.5, 0.5), (0.5, 1.5), ... (no −½ offset in the legacy kernel), halfway between pixels, so
        // each bin is the mean of a 2×2 neighbourhood.
        let features = Tensor(shape: [1, 1, 3, 3], scalars: [0, 1, 2, 3, 4, 5, 6, 7, 8])
        let output = RoIAlignKernels.forward(features: features, rois: boxes([[0, 0, 2, 2]]), batchIndices: [0],
                                             outputHeight: 2, outputWidth: 2, spatialScale: 1, samplingRatio: 1)
        XCTAssertEqual(output.scalars, [2, 3, 5, 6])
        // Far outside (y < −1): zero.
        let outside = RoIAlignKernels.forward(features: features, rois: boxes([[0, -10, 2, -5]]), batchIndices: [0],
                                              outputHeight: 1, outputWidth: 1, spatialScale: 1, samplingRatio: 2)
        XCTAssertEqual(outside.scalars, [0])
    }

    func testBackwardMatchesFiniteDifferences() {
        let features = randomTensor([2, 3, 9, 11], seed: 3)
        let rois = boxes([[1.2, 0.7, 14.9, 12.3], [-2, 3, 6, 20], [10, 10, 10.4, 10.1], [0, 0, 22, 18]])
        let batch = [0, 1, 1, 0]
        let upstream = randomTensor([4, 3, 3, 3], seed: 4)
        func objective(_ x: Tensor) -> Double {
            let y = RoIAlignKernels.forward(features: x, rois: rois, batchIndices: batch, outputHeight: 3, outputWidth: 3,
                                            spatialScale: 0.5, samplingRatio: -1)
            return zip(y.scalars, upstream.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let analytic = RoIAlignKernels.backward(outputGradient: upstream, featureShape: features.shape, rois: rois,
                                                batchIndices: batch, spatialScale: 0.5, samplingRatio: -1).scalars
        var generator = SeededGenerator(seed: 5)
        var checked = 0
        for _ in 0..<60 {
            let index = generator.nextInt(below: features.count)
            var plus = features, minus = features
            plus.withUnsafeMutableBufferPointer { $0[index] += 0.05 }
            minus.withUnsafeMutableBufferPointer { $0[index] -= 0.05 }
            let numeric = (objective(plus) - objective(minus)) / 0.1
            XCTAssertEqual(Double(analytic[index]), numeric, accuracy: 1e-3 + 1e-3 * abs(numeric), "element \(index)")
            if analytic[index] != 0 { checked += 1 }
        }
        XCTAssertGreaterThan(checked, 20, "enough elements under RoIs were checked")
    }

    func testDifferentiableWrapperRoutesGradientToFeatures() {
        let features = randomTensor([1, 2, 8, 8], seed: 6)
        let rois = boxes([[0, 0, 16, 16], [4, 2, 10, 15]])
        let upstream = randomTensor([2, 2, 7, 7], seed: 7)
        let tape = GradientTape()
        let x = tape.watch(features)
        let y = roiAlign(x, rois: rois, batchIndices: [0, 0], outputSize: 7, spatialScale: 0.5, samplingRatio: 2)
        XCTAssertEqual(y.shape, [2, 2, 7, 7])
        tape.backward(from: y, seed: upstream)
        let expected = RoIAlignKernels.backward(outputGradient: upstream, featureShape: features.shape, rois: rois,
                                                batchIndices: [0, 0], spatialScale: 0.5, samplingRatio: 2)
        XCTAssertEqual(tape.gradient(of: x)?.scalars, expected.scalars)
        XCTAssertGreaterThan(expected.scalars.map(abs).max()!, 0)
    }

    /// The vectorised channel blocks (32 at a time forward, 16-channel ranges per thread backward) give
    /// the same numbers as pooling each channel on its own (the scalar path).
    func testWideChannelsMatchPerChannelPooling() {
        let (n, c, h, w) = (2, 37, 10, 9)
        let features = randomTensor([n, c, h, w], seed: 21)
        let rois = boxes([[1, 2, 30, 35], [-3, 0, 12, 9], [8, 8, 8.5, 9], [0, 0, 36, 40], [20, 3, 33, 30]])
        let batch = [0, 1, 1, 0, 1]
        let upstream = randomTensor([5, c, 4, 4], seed: 22)
        let pooled = RoIAlignKernels.forward(features: features, rois: rois, batchIndices: batch, outputHeight: 4,
                                             outputWidth: 4, spatialScale: 0.25, samplingRatio: 2)
        let gradient = RoIAlignKernels.backward(outputGradient: upstream, featureShape: features.shape, rois: rois,
                                                batchIndices: batch, spatialScale: 0.25, samplingRatio: 2)
        let values = features.scalars, dy = upstream.scalars, y = pooled.scalars, dx = gradient.scalars
        for channel in [0, 7, 31, 32, 36] {
            var planes: [Float] = [], upstreamPlanes: [Float] = []
            for image in 0..<n {
                let start: Int = (image * c + channel) * h * w
                planes += values[start..<(start + h * w)]
            }
            for roi in 0..<5 {
                let start: Int = (roi * c + channel) * 16
                upstreamPlanes += dy[start..<(start + 16)]
            }
            let single = Tensor(shape: [n, 1, h, w], scalars: planes)
            let singleUpstream = Tensor(shape: [5, 1, 4, 4], scalars: upstreamPlanes)
            let expected = RoIAlignKernels.forward(features: single, rois: rois, batchIndices: batch, outputHeight: 4,
                                                   outputWidth: 4, spatialScale: 0.25, samplingRatio: 2).scalars
            let expectedGradient = RoIAlignKernels.backward(outputGradient: singleUpstream, featureShape: single.shape,
                                                            rois: rois, batchIndices: batch, spatialScale: 0.25,
                                                            samplingRatio: 2).scalars
            for roi in 0..<5 {
                for bin in 0..<16 {
                    XCTAssertEqual(y[(roi * c + channel) * 16 + bin], expected[roi * 16 + bin], accuracy: 1e-6,
                                   "forward channel \(channel) roi \(roi)")
                }
            }
            for image in 0..<n {
                for p in 0..<(h * w) {
                    XCTAssertEqual(dx[(image * c + channel) * h * w + p], expectedGradient[image * h * w + p],
                                   accuracy: 1e-6, "backward channel \(channel)")
                }
            }
        }
        XCTAssertGreaterThan(y.map(abs).max()!, 0)
    }
}
