import Foundation
import ObjectDetection
import TensorCore
import VisionBackbones

/// Timings of the detection primitives that dominate outside the convolutions: NMS over the RPN's
/// candidates and RoIAlign forward+backward at the box-head and mask-head sizes (used by
/// `masknet bench roi`; never run as a test).
public struct DetectionPrimitivesBenchmark {
    /// One timed case (median over the runs).
    public struct Timing: Codable, Sendable {
        /// What was timed.
        public var name: String
        /// Median seconds of the forward (or the whole op, for NMS).
        public var forwardSeconds: Double
        /// Median seconds of the backward (nil for NMS).
        public var backwardSeconds: Double?
    }

    /// Timed repetitions per case.
    public var runs: Int
    /// NMS candidate count.
    public var nmsBoxes: Int

    /// A benchmark with `runs` repetitions and `nmsBoxes` NMS candidates (4000 = R50 eval, 1000 per level).
    public init(runs: Int = 5, nmsBoxes: Int = 4000) {
        self.runs = runs
        self.nmsBoxes = nmsBoxes
    }

    /// Random boxes inside a `extent × extent` image with sides in [minSide, maxSide].
    static func randomBoxes(_ count: Int, extent: Float, minSide: Float, maxSide: Float,
                            generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: [count, 4]) { out in
            for i in 0..<count {
                let w = generator.nextUniform(minSide, maxSide), h = generator.nextUniform(minSide, maxSide)
                let x = generator.nextUniform(0, extent - w), y = generator.nextUniform(0, extent - h)
                out[4 * i] = x; out[4 * i + 1] = y; out[4 * i + 2] = x + w; out[4 * i + 3] = y + h
            }
        }
    }

    static func median(_ runs: Int, _ body: () -> Void) -> Double {
        body()  // warm-up
        var times: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return VisionBackbones.median(times)
    }

    /// Runs every case: NMS (0.7) and batched NMS over 4 levels on `nmsBoxes` boxes in a 512² image;
    /// RoIAlign forward and backward on a `[1, 256, 32, 32]` map (scale 1/16) for 512 RoIs at 7×7 and
    /// 128 RoIs at 14×14, sampling ratio 2.
    public func run() -> [Timing] {
        var generator = SeededGenerator(seed: 2026, stream: "bench-roi")
        var timings: [Timing] = []
        let candidates = Self.randomBoxes(nmsBoxes, extent: 512, minSide: 4, maxSide: 128, generator: &generator)
        let scores = (0..<nmsBoxes).map { _ in generator.nextUniform() }
        let groups = (0..<nmsBoxes).map { $0 % 4 }
        var kept = 0
        timings.append(Timing(name: "nms \(nmsBoxes) boxes, IoU 0.7", forwardSeconds: Self.median(runs) {
            kept = BoxOperations.nms(boxes: candidates, scores: scores, iouThreshold: 0.7).count
        }, backwardSeconds: nil))
        timings.append(Timing(name: "batched nms \(nmsBoxes) boxes, 4 groups, IoU 0.7", forwardSeconds: Self.median(runs) {
            kept += BoxOperations.batchedNMS(boxes: candidates, scores: scores, groups: groups, iouThreshold: 0.7).count
        }, backwardSeconds: nil))
        precondition(kept > 0)

        var features = Tensor(uninitializedShape: [1, 256, 32, 32])
        features.withUnsafeMutableBufferPointer { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
        for (count, size) in [(512, 7), (128, 14)] {
            let rois = Self.randomBoxes(count, extent: 512, minSide: 8, maxSide: 256, generator: &generator)
            let batch = [Int](repeating: 0, count: count)
            var output = Tensor(shape: [0])
            let forward = Self.median(runs) {
                output = RoIAlignKernels.forward(features: features, rois: rois, batchIndices: batch, outputHeight: size,
                                                 outputWidth: size, spatialScale: 1.0 / 16, samplingRatio: 2)
            }
            let upstream = output
            let backward = Self.median(runs) {
                _ = RoIAlignKernels.backward(outputGradient: upstream, featureShape: features.shape, rois: rois,
                                             batchIndices: batch, spatialScale: 1.0 / 16, samplingRatio: 2)
            }
            timings.append(Timing(name: "roi_align \(count) RoIs × 256 ch → \(size)×\(size) on 32×32",
                                  forwardSeconds: forward, backwardSeconds: backward))
        }
        return timings
    }
}
