import Foundation
import LesionClassifier
import MaskNetWorkflows
import NeuralNetwork
import ObjectDetection
import TorchSerialization
import VisionBackbones
import XCTest

/// Original `.pth` checkpoints read through `CheckpointImport`: a full seed-config model written by our own
/// minimal `.pth` writer in the seed's dict layout (spec §6.1) comes back tensor for tensor, with the
/// architecture inferred from shapes and anchors from the pickled AnchorGenerator record.
final class PublishedCheckpointImportTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pth-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func writeSeedLayout(_ model: MaskRCNN, name: String, epoch: Int = 100) throws -> URL {
        let state = model.parameters.stateDictionary()
        let root = CheckpointImport.seedLayoutCheckpoint(state, anchorSizes: model.configuration.anchorSizes,
                                                         aspectRatios: model.configuration.aspectRatios, epoch: epoch,
                                                         modelName: "round_trip")
        let url = directory.appendingPathComponent(name)
        try TorchCheckpointWriter.write(root, to: url)
        return url
    }

    private func assertSameTensors(_ a: SafeTensorsFile, _ b: SafeTensorsFile, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.names, b.names, file: file, line: line)
        for (name, tensor) in a.tensors {
            XCTAssertEqual(b.tensors[name]?.shape, tensor.shape, name, file: file, line: line)
            XCTAssertEqual(b.tensors[name]?.scalars, tensor.scalars, name, file: file, line: line)
        }
        XCTAssertEqual(a.integerTensors, b.integerTensors, file: file, line: line)
    }

    func testFullSeedModelRoundTripsThroughPth() throws {
        // The seed's full model: ResNet50 + 4-level FPN, three classes (GGO + C), 30 anchors per location.
        var configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet50, truncation: 0), maskType: .both)
        configuration.rpnNMSThreshold = 0.75
        let model = MaskRCNN(configuration: configuration, seed: 7)
        let url = try writeSeedLayout(model, name: "segmentation_model_two_classes.pth")
        let imported = try CheckpointImport.read(url)
        assertSameTensors(model.parameters.stateDictionary(), imported)
        XCTAssertEqual(MaskRCNNConfiguration.from(metadata: imported.metadata), configuration)
        XCTAssertEqual(imported.metadata["epoch"], "100")
        XCTAssertEqual(imported.metadata["model_name"], "round_trip")
        // And it loads strictly into a freshly built model of the inferred configuration.
        let loaded = try SegmentationCheckpoint.load(url)
        XCTAssertEqual(loaded.configuration.backbone, configuration.backbone)
        assertSameTensors(model.parameters.stateDictionary(), loaded.parameters.stateDictionary())
    }

    func testLightModelNeedsMaskTypeUnlessNamedMerge() throws {
        let configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1), maskType: .merge)
        let model = MaskRCNN(configuration: configuration, seed: 3)
        let anonymous = try writeSeedLayout(model, name: "lightweight_segmentation_model_resnet18_t1.pth")
        XCTAssertThrowsError(try CheckpointImport.read(anonymous)) { error in
            XCTAssertTrue("\(error)".contains("--mask-type merge or ggo"), "\(error)")
            XCTAssertTrue("\(error)".contains("lightweight_segmentation_model_resnet18_t1.pth"), "\(error)")
        }
        let ggo = try CheckpointImport.read(anonymous, options: CheckpointImportOptions(maskType: .ggo))
        XCTAssertEqual(ggo.metadata["mask_type"], "ggo")
        XCTAssertEqual(ggo.metadata["truncation"], "1")
        let named = try writeSeedLayout(model, name: "segmentation_model_merged_masks.pth")
        XCTAssertEqual(MaskRCNNConfiguration.from(metadata: try CheckpointImport.read(named).metadata), configuration)
    }

    func testClassifierKeysGiveClassifierCheckpoint() throws {
        // Spec §6.2 / Appendix A: a classifier file holds the detector without mask branch plus s2new.*.
        let detector = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet34, truncation: 1), maskType: .merge)
        let classifier = CovidCTMaskNet(configuration: ClassifierConfiguration(detector: detector, roiBatchSize: 128, features: 512), seed: 5)
        let state = classifier.parameters.stateDictionary()
        let url = directory.appendingPathComponent("lightweight_classifier_resnet34_t1.pth")
        try TorchCheckpointWriter.write(CheckpointImport.seedLayoutCheckpoint(
            state, anchorSizes: detector.anchorSizes, aspectRatios: detector.aspectRatios, epoch: 50, modelName: "cls"), to: url)
        let imported = try CheckpointImport.read(url, options: CheckpointImportOptions(maskType: .merge))
        XCTAssertEqual(imported.metadata["format"], "masknet-classifier")
        let configuration = try XCTUnwrap(ClassifierConfiguration.from(metadata: imported.metadata))
        XCTAssertEqual(configuration.roiBatchSize, 128)
        XCTAssertEqual(configuration.features, 512)
        XCTAssertEqual(configuration.detector, detector)
        let rebuilt = try WeightTransfer.classifier(fromClassifier: imported, roiBatchSize: 128, features: 512)
        assertSameTensors(state, rebuilt.parameters.stateDictionary())
    }

    /// Writes a seed-layout segmentation checkpoint (R18-t1, both classes) and a classifier checkpoint with our
    /// `.pth` writer, each beside a safetensors file of the same tensors, for `Tools/check_swift_written_pth.py`
    /// to open with `torch.load`. Runs only when MASKNET_PTH_FOR_PYTHON names a folder (a developer check:
    /// CI has no torch).
    func testWriteForTorchLoad() throws {
        guard let folder = ProcessInfo.processInfo.environment["MASKNET_PTH_FOR_PYTHON"] else {
            throw XCTSkip("set MASKNET_PTH_FOR_PYTHON=FOLDER to write .pth files for Tools/check_swift_written_pth.py")
        }
        let out = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let detector = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1), maskType: .both)
        let segmentation = MaskRCNN(configuration: detector, seed: 11).parameters.stateDictionary()
        let classifier = CovidCTMaskNet(configuration: ClassifierConfiguration(detector: detector, roiBatchSize: 128, features: 256),
                                        seed: 12).parameters.stateDictionary()
        for (name, state) in [("lightweight_segmentation_model_resnet18_t1", segmentation),
                              ("lightweight_classifier_resnet18_t1", classifier)] {
            try TorchCheckpointWriter.write(CheckpointImport.seedLayoutCheckpoint(
                state, anchorSizes: detector.anchorSizes, aspectRatios: detector.aspectRatios, epoch: 7, modelName: name),
                to: out.appendingPathComponent(name + ".pth"))
            try state.write(to: out.appendingPathComponent(name + ".safetensors"))
        }
    }

    func testMisshapedPthListsEveryTensor() throws {
        let configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1), maskType: .both)
        var state = MaskRCNN(configuration: configuration, seed: 1).parameters.stateDictionary()
        state.tensors["roi_heads.box_head.fc7.weight"] = .init(shape: [3, 3], repeating: 0)
        state.tensors["extra.weight"] = .init(shape: [1], repeating: 0)
        state.tensors["roi_heads.mask_predictor.conv5_mask.bias"] = nil
        let url = directory.appendingPathComponent("broken.pth")
        try TorchCheckpointWriter.write(CheckpointImport.seedLayoutCheckpoint(
            state, anchorSizes: configuration.anchorSizes, aspectRatios: configuration.aspectRatios, epoch: 1, modelName: "x"), to: url)
        XCTAssertThrowsError(try SegmentationCheckpoint.load(url)) { error in
            guard let mismatch = error as? CheckpointMismatchError else { return XCTFail("\(error)") }
            XCTAssertEqual(mismatch.missing, ["roi_heads.mask_predictor.conv5_mask.bias"])
            XCTAssertEqual(mismatch.misshaped.map(\.name), ["roi_heads.box_head.fc7.weight"])
            XCTAssertTrue(mismatch.file.hasSuffix("broken.pth"))
        }
    }
}
