import CTDatasets
import EvaluationMetrics
import Foundation
import ImageIO
import MaskNetWorkflows
import NeuralNetwork
import ObjectDetection
import VisionBackbones
import XCTest

/// The inference workflow on generated slices with a randomly initialised light model.
final class SegmentationInferenceTests: XCTestCase {
    var root: URL!
    var imagesFolder: URL!
    var checkpoint: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-infer-\(UUID().uuidString)")
        _ = try SyntheticCTGenerator(SyntheticCTConfiguration(seed: 5, size: 64, count: 3, layout: .segmentation))
            .write(to: root.appendingPathComponent("data"))
        imagesFolder = root.appendingPathComponent("data/segmentation/imgs")
        // A small transform keeps the test fast; the architecture is the seed's light R18-t1.
        var configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1),
                                                  maskType: .merge)
        configuration.minSize = 64
        configuration.maxSize = 128
        let model = MaskRCNN(configuration: configuration, seed: 11)
        checkpoint = root.appendingPathComponent("model.safetensors")
        try model.parameters.saveCheckpoint(to: checkpoint, metadata: configuration.metadata())
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func testWritesResultsLabelMasksAndOverlays() throws {
        let out = root.appendingPathComponent("out")
        let options = SegmentationInferenceOptions(postProcessing: .init(scoreThreshold: -1, detectionsPerImage: 20), overlayLimit: 2)
        let summary = try SegmentationInference.run(checkpoint: checkpoint, images: imagesFolder, output: out,
                                                     options: options)
        let names = try FileManager.default.contentsOfDirectory(atPath: imagesFolder.path).sorted()
        XCTAssertEqual(summary.imageCount, 3)
        XCTAssertEqual(summary.overlayCount, 2)
        // Score threshold −1 keeps every candidate, so every slice fills its 20 detections.
        XCTAssertEqual(summary.detectionCount, 60)
        XCTAssertEqual(summary.imagesWithDetections, 3)

        let groundTruth = try COCOGroundTruth(contentsOf: out.appendingPathComponent("images.json"))
        XCTAssertEqual(groundTruth.images.map(\.id), [0, 1, 2])
        XCTAssertEqual(groundTruth.categoryIDs, [1])
        let detections = try COCODetections(contentsOf: out.appendingPathComponent("detections.json"),
                                            groundTruth: groundTruth)
        XCTAssertEqual(detections.annotations.count, 60)
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("detections.json"))) as! [[String: Any]]
        let imageFiles = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("images.json"))) as! [String: Any]
        XCTAssertEqual((imageFiles["images"] as! [[String: Any]]).map { $0["file_name"] as! String }, names)

        for (index, name) in names.enumerated() {
            let stem = (name as NSString).deletingPathExtension
            let labels = try ImageDecoder.decodeLabels(contentsOf: out.appendingPathComponent("masks/\(stem).png"))
            XCTAssertEqual([labels.width, labels.height], [64, 64])
            XCTAssertTrue(labels.values.allSatisfy { $0 <= 1 }, "merge masks hold only 0 and 1")
            // The label mask is the union of the image's RLE segmentations.
            let mine = detections.annotations.filter { $0.imageID == index }
            XCTAssertEqual(mine.count, 20)
            var union = [UInt8](repeating: 0, count: 64 * 64)
            var previousScore = Double.infinity
            for annotation in mine {
                guard case .rle(let rle)? = annotation.segmentation else { return XCTFail("segmentation is not RLE") }
                XCTAssertEqual([rle.height, rle.width], [64, 64])
                let mask = rle.decoded()
                for y in 0..<64 { for x in 0..<64 where mask[y, x] { union[y * 64 + x] = 1 } }
                XCTAssertLessThanOrEqual(annotation.score, previousScore, "records are in decreasing score order")
                previousScore = annotation.score
                let box = try XCTUnwrap(annotation.bbox)
                XCTAssertGreaterThan(box.width * box.height, 0, "the area > 0 filter holds")
            }
            XCTAssertEqual(labels.values, union)
            let overlayExists = FileManager.default.fileExists(atPath: out.appendingPathComponent("overlays/\(stem).png").path)
            XCTAssertEqual(overlayExists, index < 2)
        }
        for record in raw {
            let probability = record["mask_probability"] as! Double
            XCTAssertTrue(probability == 0 || probability > 0.6224, "mean sigmoid of logits > 0.5 is above sigmoid(0.5)")
        }
        let run = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("inference.json"))) as! [String: Any]
        XCTAssertEqual(run["mask_probability_threshold"] as! Double, 0.6225, accuracy: 1e-4)
        let overlay = try ImageDecoder.decode(contentsOf: out.appendingPathComponent("overlays/\((names[0] as NSString).deletingPathExtension).png"))
        XCTAssertEqual([overlay.width, overlay.height, overlay.channels], [64, 64, 3])
    }

    func testNegativeMaskThresholdCoversTheSliceWithTheTopLabel() throws {
        // Pasted background is logit 0, so a threshold below 0 marks every pixel for every detection: the label
        // mask is then the top detection's label everywhere and each RLE covers the whole slice.
        let out = root.appendingPathComponent("out-negative")
        let options = SegmentationInferenceOptions(
            postProcessing: .init(scoreThreshold: -1, detectionsPerImage: 3, maskLogitThreshold: -1e9), overlayLimit: 0)
        let summary = try SegmentationInference.run(checkpoint: checkpoint, images: imagesFolder, output: out, options: options)
        XCTAssertEqual(summary.overlayCount, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("overlays").path))
        let name = try FileManager.default.contentsOfDirectory(atPath: imagesFolder.path).sorted()[0]
        let labels = try ImageDecoder.decodeLabels(
            contentsOf: out.appendingPathComponent("masks/\((name as NSString).deletingPathExtension).png"))
        XCTAssertEqual(Set(labels.values), [1])
        let groundTruth = try COCOGroundTruth(contentsOf: out.appendingPathComponent("images.json"))
        let detections = try COCODetections(contentsOf: out.appendingPathComponent("detections.json"), groundTruth: groundTruth)
        for annotation in detections.annotations {
            guard case .rle(let rle)? = annotation.segmentation else { return XCTFail("segmentation is not RLE") }
            XCTAssertEqual(rle.area, 64 * 64)
        }
    }

    func testSameAsInMemoryModelAndDeterministic() throws {
        let options = SegmentationInferenceOptions(postProcessing: .init(scoreThreshold: -1, detectionsPerImage: 5), overlayLimit: 0)
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try SegmentationInference.run(checkpoint: checkpoint, images: imagesFolder, output: a, options: options)
        let model = try SegmentationCheckpoint.load(checkpoint)
        try SegmentationInference.run(model: model, images: imagesFolder, output: b, options: options)
        XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent("detections.json")),
                       try Data(contentsOf: b.appendingPathComponent("detections.json")))
    }

    func testCheckpointWithoutMetadataNamesTheFile() throws {
        let bare = root.appendingPathComponent("bare.safetensors")
        let file = try SafeTensorsFile.read(checkpoint)
        try SafeTensorsFile(tensors: file.tensors, integerTensors: file.integerTensors).write(to: bare)
        XCTAssertThrowsError(try SegmentationInference.run(checkpoint: bare, images: imagesFolder,
                                                           output: root.appendingPathComponent("x"))) { error in
            guard case SegmentationCheckpointError.missingConfiguration(let path, _) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, bare.path)
            XCTAssertTrue("\(error)".contains("bare.safetensors"))
        }
    }

    func testCheckpointOfAnotherArchitectureListsTheTensors() throws {
        // Metadata claims ResNet34 while the tensors are ResNet18's: the strict load names the file and the
        // tensors that ResNet34 has and the file lacks.
        var file = try SafeTensorsFile.read(checkpoint)
        var claimed = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet34, truncation: 1), maskType: .merge)
        claimed.minSize = 64
        file.metadata = claimed.metadata()
        let wrong = root.appendingPathComponent("wrong.safetensors")
        try file.write(to: wrong)
        XCTAssertThrowsError(try SegmentationCheckpoint.load(wrong)) { error in
            guard let mismatch = error as? CheckpointMismatchError else { return XCTFail("unexpected error \(error)") }
            XCTAssertEqual(mismatch.file, wrong.path)
            XCTAssertTrue(mismatch.missing.contains("backbone.body.layer1.2.conv1.weight"))
        }
        // A mask type with another class count gives mis-shaped predictor tensors.
        var both = claimed
        both.backbone = BackboneConfiguration(depth: .resnet18, truncation: 1)
        both.maskType = .both
        file.metadata = both.metadata()
        try file.write(to: wrong)
        XCTAssertThrowsError(try SegmentationCheckpoint.load(wrong)) { error in
            let mismatch = error as? CheckpointMismatchError
            XCTAssertTrue(mismatch?.misshaped.map(\.name).contains("roi_heads.box_predictor.cls_score.weight") ?? false, "\(error)")
        }
    }

    func testBadImageNamesTheFile() throws {
        let folder = root.appendingPathComponent("bad-images")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let good = try FileManager.default.contentsOfDirectory(atPath: imagesFolder.path).sorted()[0]
        try FileManager.default.copyItem(at: imagesFolder.appendingPathComponent(good), to: folder.appendingPathComponent("a.png"))
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("b.png"))
        try Data("notes".utf8).write(to: folder.appendingPathComponent("README.txt"))
        XCTAssertThrowsError(try SegmentationInference.run(checkpoint: checkpoint, images: folder,
                                                           output: root.appendingPathComponent("y"))) { error in
            guard case SegmentationInferenceError.unreadableImage(let path, _) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, folder.appendingPathComponent("b.png").path)
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("b.png"))
        let summary = try SegmentationInference.run(checkpoint: checkpoint, images: folder, output: root.appendingPathComponent("y"),
                                                    options: .init(overlayLimit: 0))
        XCTAssertEqual(summary.skippedFiles, ["README.txt"])
        XCTAssertEqual(summary.imageCount, 1)
        XCTAssertThrowsError(try SegmentationInference.run(checkpoint: checkpoint, images: root.appendingPathComponent("nowhere"),
                                                           output: root.appendingPathComponent("z"))) { error in
            XCTAssertTrue("\(error)".contains("nowhere"))
        }
    }
}
