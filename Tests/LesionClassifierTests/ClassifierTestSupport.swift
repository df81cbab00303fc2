import CTDatasets
import Foundation
import LesionClassifier
import NeuralNetwork
import ObjectDetection
import TensorCore
import VisionBackbones
import XCTest

/// Tiny models and data for the classifier tests: 64×64 slices, min/max size 64/128, ResNet18 t1.
enum ClassifierTestSupport {
    /// The detector of the tiny tests.
    static func detector(depth: ResNetDepth = .resnet18, maskType: MaskType = .merge) -> MaskRCNNConfiguration {
        var configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: depth, truncation: 1),
                                                  maskType: maskType)
        configuration.minSize = 64
        configuration.maxSize = 128
        return configuration
    }

    /// A fresh scratch folder, removed at the end of the test.
    static func scratchFolder(_ test: XCTestCase) throws -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("lesion-classifier-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        return folder
    }

    /// A segmentation model's checkpoint as the segmentation stage writes it (state dict + configuration
    /// metadata), read back from disk. Its BN running statistics and counters are set away from their
    /// init values so that "unchanged" and "copied" mean something.
    static func segmentationCheckpoint(_ configuration: MaskRCNNConfiguration, seed: UInt64, in folder: URL,
                                       metadata: Bool = true) throws -> (checkpoint: SafeTensorsFile, model: MaskRCNN) {
        let model = MaskRCNN(configuration: configuration, seed: seed)
        var generator = SeededGenerator(seed: seed, stream: "test.running-statistics")
        for parameter in model.parameters.parameters {
            if parameter.name.hasSuffix(".running_mean") {
                parameter.value = Tensor(shape: parameter.value.shape,
                                         scalars: (0..<parameter.value.count).map { _ in 0.1 * generator.nextNormal() })
            } else if parameter.name.hasSuffix(".running_var") {
                parameter.value = Tensor(shape: parameter.value.shape,
                                         scalars: (0..<parameter.value.count).map { _ in 0.5 + generator.nextUniform() })
            }
        }
        for name in model.parameters.integerBufferNames { model.parameters.integerBuffers[name] = 123 }
        let url = folder.appendingPathComponent("segmentation-\(seed).safetensors")
        try model.parameters.stateDictionary(metadata: metadata ? configuration.metadata() : [:]).write(to: url)
        return (try SafeTensorsFile.read(url), model)
    }

    /// A 64×64 slice whose bright blob size depends on the class, with seeded noise.
    static func slice(_ label: CTClass, variant: Int) -> Tensor {
        var generator = SeededGenerator(seed: UInt64(17 + 31 * variant + label.rawValue))
        let radius = [0.0, 7.0, 14.0][label.rawValue] as Double
        let (cx, cy) = (24 + Double(variant % 3) * 8, 28 + Double(variant % 2) * 6)
        var scalars = [Float](repeating: 0, count: 3 * 64 * 64)
        for y in 0..<64 {
            for x in 0..<64 {
                let inside = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot() < radius
                let value = (inside ? 0.8 : 0.25) + 0.05 * generator.nextNormal()
                for c in 0..<3 { scalars[c * 4096 + y * 64 + x] = value }
            }
        }
        return Tensor(shape: [3, 64, 64], scalars: scalars)
    }

    /// `count` slices cycling through the classes, identified `slice-<index>`.
    static func source(count: Int, offset: Int = 0) -> LabelledSliceSource {
        LabelledSliceSource(count: count) { index in
            let label = CTClass(rawValue: (index + offset) % 3)!
            return (slice(label, variant: index + offset), label, "slice-\(index + offset)")
        }
    }

    /// Every tensor's scalars by name, and the integer buffers.
    static func snapshot(_ store: ParameterStore) -> (tensors: [String: [Float]], integers: [String: Int64]) {
        (Dictionary(uniqueKeysWithValues: store.parameters.map { ($0.name, $0.value.scalars) }), store.integerBuffers)
    }

    /// Bitwise equality of two float arrays (so −0 ≠ +0 and NaN payloads count).
    static func bitIdentical(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }
}
