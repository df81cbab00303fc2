import Foundation
import NeuralNetwork
import ObjectDetection
import TensorCore
import VisionBackbones

/// Times the seed's Mask R-CNN (issue 5's speed target): one training step (forward, five losses,
/// backward, Adam with the seed's lr/weight decay) and one inference on a slice with two lesions, plus a
/// per-stage breakdown of inference that shows where the time outside the backbone goes.
public struct MaskRCNNBenchmark {
    public struct Result: Codable, Sendable {
        public var model: String
        public var imageSize: Int
        public var threads: Int
        /// Median seconds of forward + losses + backward + Adam step.
        public var trainingStepSeconds: Double
        /// Median seconds of `MaskRCNN.detect(image:)` (pasted masks included).
        public var inferenceSeconds: Double
        /// Median seconds per inference stage: transform, backbone, rpn_head, proposals (anchors + filtering),
        /// box_head, roi_heads_detect (box head again + post-processing + mask branch), paste.
        public var inferenceStages: [String: Double]
        /// Detections returned by the timed inference.
        public var detections: Int
        /// Peak resident memory of this process, MiB.
        public var peakResidentMiB: Double
    }

    public var configuration: MaskRCNNConfiguration
    public var runs: Int

    public init(configuration: MaskRCNNConfiguration, runs: Int = 5) {
        self.configuration = configuration
        self.runs = runs
    }

    /// A `size`×`size` slice with two elliptical lesions and its target (the shape of a CNCB training slice).
    public static func sample(size: Int) -> (image: Tensor, target: DetectionTarget) {
        var generator = SeededGenerator(seed: 3, stream: "bench.maskrcnn")
        var image = Tensor(shape: [3, size, size])
        var masks = Tensor(shape: [2, size, size])
        let lesions: [(cy: Float, cx: Float, ry: Float, rx: Float)] = [
            (0.35, 0.3, 0.06, 0.09), (0.62, 0.68, 0.1, 0.06),
        ]
        var boxes: [Float] = []
        image.withUnsafeMutableBufferPointer { pixels in
            masks.withUnsafeMutableBufferPointer { m in
                for i in 0..<(size * size) { pixels[i] = 0.3 + 0.2 * generator.nextUniform() }
                for (k, lesion) in lesions.enumerated() {
                    var (x1, y1, x2, y2) = (size, size, 0, 0)
                    for y in 0..<size {
                        for x in 0..<size {
                            let dy = (Float(y) - lesion.cy * Float(size)) / (lesion.ry * Float(size))
                            let dx = (Float(x) - lesion.cx * Float(size)) / (lesion.rx * Float(size))
                            guard dx * dx + dy * dy <= 1 else { continue }
                            m[k * size * size + y * size + x] = 1
                            pixels[y * size + x] = 0.85
                            (x1, y1, x2, y2) = (min(x1, x), min(y1, y), max(x2, x + 1), max(y2, y + 1))
                        }
                    }
                    boxes += [Float(x1), Float(y1), Float(x2), Float(y2)]
                }
                for c in 1..<3 {
                    for i in 0..<(size * size) { pixels[c * size * size + i] = pixels[i] }
                }
            }
        }
        return (image, DetectionTarget(boxes: Tensor(shape: [2, 4], scalars: boxes), labels: [1, 1], masks: masks))
    }

    /// One warm-up, then `runs` timed repetitions of each measurement.
    public func run(imageSize: Int = 512) -> Result {
        let model = MaskRCNN(configuration: configuration, seed: 0)
        let (image, target) = Self.sample(size: imageSize)
        let optimizer = Adam(parameters: model.parameters.trainableParameters, learningRate: 1e-5, weightDecay: 1e-3)
        var generator = SeededGenerator(seed: 1, stream: "bench.maskrcnn.sampling")

        func trainingStep() {
            let tape = GradientTape()
            let losses = model.losses(image: image, target: target, context: .training(tape: tape), generator: &generator)
            tape.backward(from: losses.total)
            optimizer.step()
            optimizer.zeroGradients()
        }
        trainingStep()  // warm-up
        let trainingTimes = (0..<runs).map { _ in Self.seconds { trainingStep() } }

        var detections = 0
        _ = model.detect(image: image)
        let inferenceTimes = (0..<runs).map { _ in
            Self.seconds { detections = model.detect(image: image).labels.count }
        }
        var stages: [String: [Double]] = [:]
        for _ in 0..<runs {
            for (name, seconds) in Self.stageTimes(model, image: image) { stages[name, default: []].append(seconds) }
        }
        return Result(
            model: "\(configuration.backbone.depth.rawValue)-t\(configuration.backbone.truncation)", imageSize: imageSize,
            threads: ThreadingConfiguration.workerCount, trainingStepSeconds: VisionBackbones.median(trainingTimes),
            inferenceSeconds: VisionBackbones.median(inferenceTimes),
            inferenceStages: stages.mapValues(VisionBackbones.median), detections: detections,
            peakResidentMiB: BackboneBenchmark.peakResidentMiB())
    }

    /// Inference split into its stages (the same calls as `MaskRCNN.detect`).
    static func stageTimes(_ model: MaskRCNN, image: Tensor) -> [(String, Double)] {
        let context = ForwardContext.inference
        var times: [(String, Double)] = []
        func time<T>(_ name: String, _ body: () -> T) -> T {
            let start = DispatchTime.now().uptimeNanoseconds
            let value = body()
            times.append((name, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            return value
        }
        let prepared = time("transform") { model.transform(image) }
        let levels = time("backbone") { model.backbone(Variable(prepared.batch), context) }
        let head = time("rpn_head") { model.rpn.head(levels, context) }
        let proposals = time("proposals") { () -> Tensor in
            let anchors = model.rpn.anchorGenerator.anchors(
                imageHeight: prepared.batch.shape[2], imageWidth: prepared.batch.shape[3],
                featureSizes: levels.map { (height: $0.shape[2], width: $0.shape[3]) })
            return model.rpn.filterProposals(objectness: head.objectness.value, deltas: head.deltas.value,
                                             levelAnchors: anchors, image: prepared, training: false)
        }
        _ = time("box_head") { model.roiHeads.boxOutputs(levels, rois: proposals, image: prepared, context) }
        // `detect` runs the box head again, then post-processing and the mask branch.
        let detections = time("roi_heads_detect") {
            model.roiHeads.detect(levels, proposals: proposals, image: prepared, context: context)
        }
        _ = time("paste") {
            detections.labels.isEmpty ? detections.masks
                : MaskOperations.pasteMasksInImage(detections.masks, boxes: detections.boxes,
                                                   imageHeight: prepared.originalHeight, imageWidth: prepared.originalWidth)
        }
        return times
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
