import CTDatasets
import Foundation
import LesionClassifier
import NeuralNetwork
import ObjectDetection
import TensorCore
import TorchSerialization
import VisionBackbones

/// What an original `.pth` file cannot tell and the caller may give (spec §6.1, §6.2).
public struct CheckpointImportOptions: Equatable, Sendable {
    /// For two-class files: `merge` or `ggo` (the weights cannot tell them apart). Three classes are always
    /// `both`. Nil: a file whose name contains "merge" is `merge`; any other two-class file is refused.
    public var maskType: MaskType?
    /// The RPN NMS threshold the model is run with (`--rpn_nms_th`; not stored in `.pth` files).
    public var rpnNMSThreshold: Float = 0.75
    /// The classifier's per-class RoI NMS (`--roi_nms_th`), for classifier files.
    public var roiNMSThreshold: Float = 0.75

    /// The seed's defaults.
    public init(maskType: MaskType? = nil, rpnNMSThreshold: Float = 0.75, roiNMSThreshold: Float = 0.75) {
        self.maskType = maskType
        self.rpnNMSThreshold = rpnNMSThreshold
        self.roiNMSThreshold = roiNMSThreshold
    }
}

/// Reads checkpoints in either of the formats masknet accepts: its own safetensors files, and the
/// original COVID-CT-Mask-Net `.pth` files (`torch.save` dicts with `model_weights`, `anchor_generator`,
/// `epoch`, `model_name`, …, or a bare state dict), which are converted in memory to the same content
/// `Tools/convert_checkpoint.py` writes: tensors under the seed's `state_dict` keys and the metadata block of
/// `MaskRCNNConfiguration` (segmentation) or `ClassifierConfiguration` (classifier, when `s2new.*` is present).
///
/// Backbone, truncation, class count, mask head and box-head width are inferred from tensor shapes, anchor
/// sizes and ratios from the pickled AnchorGenerator (seed defaults when there is none).
public enum CheckpointImport {
    /// The checkpoint at `url`, whichever format it is in.
    /// - Throws: `SafeTensorsError`, `TorchCheckpointError` or `CheckpointImportError`, each naming the file.
    public static func read(_ url: URL, options: CheckpointImportOptions = .init()) throws -> SafeTensorsFile {
        if isTorchFile(url) {
            return try convert(try TorchCheckpoint.read(url), options: options)
        }
        return try SafeTensorsFile.read(url)
    }

    /// Whether `url` starts like a `torch.save` file (zip or legacy), whatever its extension.
    public static func isTorchFile(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return TorchCheckpoint.looksLikeCheckpoint((try? handle.read(upToCount: 8)) ?? Data())
    }

    /// Converts an unpickled original checkpoint to masknet's content.
    public static func convert(_ checkpoint: TorchCheckpoint, options: CheckpointImportOptions = .init()) throws -> SafeTensorsFile {
        let source = checkpoint.source
        func fail(_ message: String) -> CheckpointImportError { CheckpointImportError(file: source, message: message) }
        let root = checkpoint.root
        let weights: [(key: String, value: PickleValue)]
        var anchorGenerator: PickleValue?
        if let stateDict = root["model_weights"] {
            guard let entries = stateDict.stringKeyedEntries else { throw fail("model_weights is not a dict of named tensors") }
            weights = entries
            anchorGenerator = root["anchor_generator"]
        } else if let entries = root.stringKeyedEntries, !entries.isEmpty,
                  entries.allSatisfy({ if case .tensor = $0.value { return true } else { return false } }) {
            weights = entries
        } else {
            throw fail("neither the seed's checkpoint dict (with 'model_weights', spec §6.1) nor a state dict; it holds \(root.kindDescription)")
        }
        if anchorGenerator == PickleValue.none { anchorGenerator = nil }

        var file = SafeTensorsFile(source: source)
        for (originalKey, value) in seedKeys(weights) {
            guard case .tensor(let tensor) = value else {
                throw fail("state dict entry \(originalKey) is \(value.kindDescription), not a tensor")
            }
            do {
                if originalKey.hasSuffix("num_batches_tracked") {
                    let values = try tensor.integerValues()
                    guard values.count == 1 else { throw fail("\(originalKey) has \(values.count) elements; expected a scalar") }
                    file.integerTensors[originalKey] = IntegerTensor(scalar: values[0])
                } else if tensor.dtype.isFloatingPoint {
                    file.tensors[originalKey] = Tensor(shape: tensor.shape, scalars: try tensor.floatValues())
                } else {
                    throw fail("tensor \(originalKey) has dtype \(tensor.dtype.rawValue); only float weights and int64 num_batches_tracked are expected")
                }
            } catch let error as TorchTensorError {
                throw fail("tensor \(originalKey): \(error.description)")
            }
        }

        let architecture = try inferArchitecture(file, options: options, fail: fail)
        var configuration = MaskRCNNConfiguration(backbone: architecture.backbone, maskType: architecture.maskType)
        configuration.representationSize = architecture.representationSize
        configuration.rpnNMSThreshold = options.rpnNMSThreshold
        let anchorsPerLocation = file.tensors["rpn.head.cls_logits.weight"]!.shape[0]
        (configuration.anchorSizes, configuration.aspectRatios) = try anchorSettings(
            anchorGenerator, levels: architecture.backbone.returnedStages.count, anchorsPerLocation: anchorsPerLocation, fail: fail)

        var metadata: [String: String]
        if let scores = file.tensors["s2new.fc_scores.weight"] {
            // Classifier (spec §6.2, Appendix A): fc_scores is [s, 5D].
            guard scores.shape.count == 2, scores.shape[1] % 5 == 0, scores.shape[1] > 0 else {
                throw fail("s2new.fc_scores.weight has shape \(scores.shape); expected [s, 5·D]")
            }
            var classifier = ClassifierConfiguration(detector: configuration, roiBatchSize: scores.shape[1] / 5,
                                                     features: scores.shape[0])
            classifier.roiNMSThreshold = options.roiNMSThreshold
            metadata = classifier.metadata()
            // The published classifiers were trained with BN statistics frozen (spec §5.4).
            metadata["bn_statistics"] = "frozen"
            metadata["trainable_set"] = "s2new+bn"
        } else {
            metadata = configuration.metadata()
        }
        if let epoch = root["epoch"] {
            switch epoch {
            case .string(let text): metadata["epoch"] = text
            case .integer(let value): metadata["epoch"] = "\(value)"
            default: break
            }
        }
        if case .string(let name)? = root["model_name"] { metadata["model_name"] = name }
        metadata["converted_from"] = (source as NSString).lastPathComponent
        metadata["converter"] = "masknet TorchSerialization (\(checkpoint.format.rawValue) format)"
        file.metadata = metadata
        return file
    }

    // MARK: Keys

    /// Strips a DataParallel `module.` prefix and renames torchvision ≥ 0.13's Conv2dNormActivation keys to
    /// the seed's (torchvision 0.3) names, which are ours.
    static func seedKeys(_ weights: [(key: String, value: PickleValue)]) -> [(String, PickleValue)] {
        var entries = weights
        if !entries.isEmpty, entries.allSatisfy({ $0.key.hasPrefix("module.") }) {
            entries = entries.map { (String($0.key.dropFirst("module.".count)), $0.value) }
        }
        return entries.map { entry in
            let parts = entry.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            // rpn.head.conv.0.0.{weight,bias} → rpn.head.conv.{weight,bias}
            if parts.count == 6, parts[0...2] == ["rpn", "head", "conv"], parts[3] == "0", parts[4] == "0" {
                return ("rpn.head.conv.\(parts[5])", entry.value)
            }
            // backbone.fpn.{inner,layer}_blocks.N.0.{weight,bias} → backbone.fpn.…_blocks.N.{weight,bias}
            if parts.count == 6, parts[0] == "backbone", parts[1] == "fpn", parts[2].hasSuffix("_blocks"), parts[4] == "0" {
                return ("backbone.fpn.\(parts[2]).\(parts[3]).\(parts[5])", entry.value)
            }
            // roi_heads.mask_head.N.0.{weight,bias} → roi_heads.mask_head.mask_fcn{N+1}.{weight,bias}
            if parts.count == 5, parts[0] == "roi_heads", parts[1] == "mask_head", let index = Int(parts[2]), parts[3] == "0" {
                return ("roi_heads.mask_head.mask_fcn\(index + 1).\(parts[4])", entry.value)
            }
            return entry
        }
    }

    // MARK: Architecture

    struct Architecture {
        var backbone: BackboneConfiguration
        var maskType: MaskType
        var representationSize: Int
    }

    private static func stageBlocks(_ file: SafeTensorsFile, _ stage: Int) -> Set<Int> {
        let prefix = "backbone.body.layer\(stage)."
        return Set(file.names.compactMap { name -> Int? in
            guard name.hasPrefix(prefix) else { return nil }
            return Int(name.dropFirst(prefix.count).prefix { $0 != "." })
        })
    }

    /// Depth, truncation, mask type and box-head width from the tensor shapes (spec §2.2, Appendix A).
    static func inferArchitecture(_ file: SafeTensorsFile, options: CheckpointImportOptions,
                                  fail: (String) -> CheckpointImportError) throws -> Architecture {
        func need(_ key: String) throws -> Tensor {
            guard let tensor = file.tensors[key] else {
                throw fail("tensor \(key) is missing; this is not a COVID-CT-Mask-Net checkpoint")
            }
            return tensor
        }
        _ = try need("backbone.body.conv1.weight")
        let depth: ResNetDepth
        if file.tensors["backbone.body.layer1.0.conv3.weight"] != nil {
            depth = .resnet50
        } else {
            switch stageBlocks(file, 1).count {
            case 2: depth = .resnet18
            case 3: depth = .resnet34
            case let blocks: throw fail("backbone.body.layer1 has \(blocks) blocks; expected 2 (ResNet18) or 3 (ResNet34)")
            }
        }
        let lastStage = (1...4).last { !stageBlocks(file, $0).isEmpty } ?? 0
        let truncation: Int
        if depth == .resnet50 {
            guard lastStage == 4 else { throw fail("a ResNet50 checkpoint must keep layer4 (the seed ignores truncation for it)") }
            truncation = 0
        } else {
            guard (2...4).contains(lastStage) else {
                throw fail("the ResNet body ends at layer\(lastStage); the seed keeps layer2, layer3 or layer4")
            }
            truncation = 4 - lastStage
        }
        let backbone = BackboneConfiguration(depth: depth, truncation: truncation)
        let levels = file.names.filter { $0.hasPrefix("backbone.fpn.inner_blocks.") && $0.hasSuffix(".weight") }.count
        guard levels == backbone.returnedStages.count else {
            throw fail("the FPN has \(levels) levels; \(depth.rawValue) needs \(backbone.returnedStages.count)")
        }
        _ = try need("rpn.head.cls_logits.weight")

        let classCount = try need("roi_heads.box_predictor.cls_score.weight").shape[0]
        let maskType: MaskType
        switch classCount {
        case 3:
            if let given = options.maskType, given != .both {
                throw fail("the weights have 3 classes (GGO + consolidation) but mask type \(given.rawValue) has 2")
            }
            maskType = .both
        case 2:
            if let given = options.maskType, given != .both {
                maskType = given
            } else if options.maskType == nil, (file.source as NSString).lastPathComponent.lowercased().contains("merge") {
                maskType = .merge
            } else {
                throw fail("the weights have 2 classes, which is mask type 'merge' (lesion) or 'ggo'; the checkpoint does not "
                    + "say which, so give the mask type (--mask-type merge or ggo, or mask_type in the stage)")
            }
        default:
            throw fail("roi_heads.box_predictor.cls_score has \(classCount) classes; the seed has 2 or 3")
        }
        let fc6 = try need("roi_heads.box_head.fc6.weight")
        guard fc6.shape.count == 2, fc6.shape[1] == 256 * 7 * 7 else {
            throw fail("roi_heads.box_head.fc6.weight has shape \(fc6.shape); expected [R, 12544]")
        }
        return Architecture(backbone: backbone, maskType: maskType, representationSize: fc6.shape[0])
    }

    /// Anchor sizes and ratios shared by every level, from the pickled generator (spec §3.1): the seed
    /// stores one tuple per level (five identical entries), of which as many as FPN levels are used.
    static func anchorSettings(_ generator: PickleValue?, levels: Int, anchorsPerLocation: Int,
                               fail: (String) -> CheckpointImportError) throws -> (sizes: [Float], ratios: [Float]) {
        var sizes: [Float] = [2, 4, 8, 16, 32], ratios: [Float] = [0.1, 0.25, 0.5, 1, 1.5, 2]
        if let generator {
            guard case .object(let object) = generator,
                  let allSizes = object.attribute("sizes")?.elements, let allRatios = object.attribute("aspect_ratios")?.elements else {
                throw fail("anchor_generator (\(generator.kindDescription)) has no sizes/aspect_ratios")
            }
            func perLevel(_ values: [PickleValue], _ what: String) throws -> [[Float]] {
                try values.prefix(levels).map { level in
                    let numbers = level.elements ?? [level]
                    return try numbers.map { number in
                        guard let value = number.doubleValue else { throw fail("anchor_generator.\(what) holds \(number.kindDescription)") }
                        return Float(value)
                    }
                }
            }
            let levelSizes = try perLevel(allSizes, "sizes"), levelRatios = try perLevel(allRatios, "aspect_ratios")
            guard levelSizes.count == levels, levelRatios.count == levels else {
                throw fail("anchor_generator has settings for fewer than the \(levels) FPN levels")
            }
            guard Set(levelSizes).count == 1, Set(levelRatios).count == 1 else {
                throw fail("anchor sizes/ratios differ per level (\(levelSizes), \(levelRatios)); masknet uses one set for every level")
            }
            sizes = levelSizes[0]
            ratios = levelRatios[0]
        }
        guard sizes.count * ratios.count == anchorsPerLocation else {
            throw fail("\(sizes.count) sizes × \(ratios.count) ratios = \(sizes.count * ratios.count) anchors, but "
                + "rpn.head.cls_logits predicts \(anchorsPerLocation) per location")
        }
        return (sizes, ratios)
    }

    // MARK: Writing

    /// A `.pth` file in the seed's layout (spec §6.1) holding `file`'s tensors as `model_weights`, an
    /// AnchorGenerator record with the configuration's anchors for five levels, `epoch` and `model_name`:
    /// what the original scripts save, written without Python (tests and fixtures use it).
    public static func seedLayoutCheckpoint(_ file: SafeTensorsFile, anchorSizes: [Float], aspectRatios: [Float],
                                            epoch: Int, modelName: String) -> PickleValue {
        var weights: [PickleValue.DictionaryEntry] = []
        for name in file.names {
            if let tensor = file.tensors[name] {
                weights.append(.init(key: .string(name), value: .tensor(TorchTensor(float32: tensor.scalars, shape: tensor.shape))))
            } else if let integer = file.integerTensors[name] {
                weights.append(.init(key: .string(name), value: .tensor(TorchTensor(int64: integer.scalars, shape: integer.shape))))
            }
        }
        let level = { (values: [Float]) in PickleValue.tuple(values.map { .float(Double($0)) }) }
        let anchors = PickleObject(
            className: "torchvision.models.detection.anchor_utils.AnchorGenerator",
            state: .dictionary([
                .init(key: .string("training"), value: .bool(false)),
                .init(key: .string("sizes"), value: .tuple(Array(repeating: level(anchorSizes), count: 5))),
                .init(key: .string("aspect_ratios"), value: .tuple(Array(repeating: level(aspectRatios), count: 5))),
            ]))
        return .dictionary([
            .init(key: .string("epoch"), value: .string("\(epoch)")),
            .init(key: .string("model_weights"), value: .object(PickleObject(className: "collections.OrderedDict", items: weights))),
            .init(key: .string("anchor_generator"), value: .object(anchors)),
            .init(key: .string("model_name"), value: .string(modelName)),
        ])
    }
}

/// An original checkpoint that does not describe a COVID-CT-Mask-Net model masknet can build.
public struct CheckpointImportError: Error, CustomStringConvertible, Equatable {
    /// The checkpoint file.
    public var file: String
    /// What is wrong and what to do.
    public var message: String

    public var description: String { "checkpoint \(file): \(message)" }
}
