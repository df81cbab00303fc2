import CTDatasets
import EvaluationMetrics
import Foundation
import ImageIO
import NeuralNetwork
import ObjectDetection
import TensorCore
import Visualization

/// A problem running segmentation inference; every case names the file or folder and what to do.
public enum SegmentationInferenceError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The images folder does not exist or is not a folder.
    case missingImageFolder(path: String)
    /// The images folder holds no PNG or JPEG file.
    case noImages(folder: String)
    /// An image could not be read or decoded.
    case unreadableImage(file: String, reason: String)
    /// An image has a channel count the model cannot use.
    case unexpectedChannels(file: String, channels: Int)
    /// Two inputs would write the same output file (same name, different extension).
    case duplicateNames(folder: String, names: [String])
    /// An output file or folder could not be written.
    case outputFailure(path: String, reason: String)
    /// An option is out of range.
    case invalidOption(name: String, detail: String)

    public var description: String {
        switch self {
        case .missingImageFolder(let path):
            return "images folder \(path) does not exist or is not a folder; check --images"
        case .noImages(let folder):
            return "images folder \(folder) holds no .png, .jpg or .jpeg file"
        case .unreadableImage(let file, let reason):
            return "image \(file) cannot be used: \(reason)"
        case .unexpectedChannels(let file, let channels):
            return "image \(file) has \(channels) channels; the model reads grey, grey+alpha, RGB or RGBA images"
        case .duplicateNames(let folder, let names):
            return "images folder \(folder) has files that differ only in their extension (\(names.joined(separator: ", "))); "
                + "their output PNGs would overwrite each other, rename or remove one"
        case .outputFailure(let path, let reason):
            return "cannot write \(path): \(reason); check that the output folder is writable"
        case .invalidOption(let name, let detail):
            return "inference option \(name): \(detail)"
        }
    }

    /// The same text as `description`.
    public var errorDescription: String? { description }
}

/// The settings of one inference run: the shared post-processing (defaults: the seed's inference script,
/// spec §8, §9.2, §10.3: score > 0.05, per-class NMS at 0.5, at most 100 detections per slice, mask logit
/// threshold 0.5) and what to write.
public struct SegmentationInferenceOptions: Sendable, Equatable {
    /// Score, NMS, count and mask thresholds.
    public var postProcessing: SegmentationPostProcessing
    /// Overlay PNGs for the first `overlayLimit` slices in sorted order; nil = every slice, 0 = none.
    public var overlayLimit: Int?
    /// Write `masks/<name>.png` label masks.
    public var writeLabelMasks = true

    /// The seed's inference defaults.
    public init(postProcessing: SegmentationPostProcessing = .inference, overlayLimit: Int? = nil, writeLabelMasks: Bool = true) {
        self.postProcessing = postProcessing
        self.overlayLimit = overlayLimit
        self.writeLabelMasks = writeLabelMasks
    }

    /// Throws for values no run can use (`WorkflowError` for post-processing, `invalidOption` otherwise).
    public func validate() throws {
        try postProcessing.validate()
        if let overlayLimit, overlayLimit < 0 {
            throw SegmentationInferenceError.invalidOption(name: "overlayLimit", detail: "must be 0 or more, got \(overlayLimit)")
        }
    }
}

/// What an inference run did.
public struct SegmentationInferenceSummary: Sendable, Equatable, Codable {
    /// Slices processed.
    public var imageCount: Int
    /// Detections written to `detections.json`.
    public var detectionCount: Int
    /// Slices with at least one detection.
    public var imagesWithDetections: Int
    /// Overlay PNGs written.
    public var overlayCount: Int
    /// Files in the images folder that are not PNG/JPEG and were left alone.
    public var skippedFiles: [String]
    /// Seconds spent reading the checkpoint and building the model.
    public var loadSeconds: Double
    /// Seconds spent in `MaskRCNN.detect` over all slices.
    public var detectSeconds: Double
    /// Wall-clock seconds of the whole run.
    public var totalSeconds: Double

    enum CodingKeys: String, CodingKey {
        case imageCount = "image_count", detectionCount = "detection_count"
        case imagesWithDetections = "images_with_detections", overlayCount = "overlay_count"
        case skippedFiles = "skipped_files", loadSeconds = "load_seconds", detectSeconds = "detect_seconds"
        case totalSeconds = "total_seconds"
    }
}

/// Runs a segmentation checkpoint over a folder of slices and writes COCO results, label masks and
/// overlays (the `infer_segmentation` stage and `masknet infer`).
///
/// Output folder layout:
/// * `detections.json`: COCO results, one record per detection: `image_id` (see `images.json`),
///   `category_id` (the detector label: 1 GGO / lesion, 2 consolidation), `bbox` `[x, y, w, h]`, `score`,
///   `segmentation` (compressed RLE of pasted mask logit > `maskLogitThreshold`) and `mask_probability`
///   (mean sigmoid of the logits inside that segmentation; see below).
/// * `images.json`: `{"images": [{"id", "file_name", "height", "width"}], "categories": [{"id", "name"}]}`,
///   i.e. a COCO ground-truth file without annotations. Ids are the 0-based positions in sorted file-name
///   order, so a COCO ground truth built from the same sorted listing matches.
/// * `inference.json`: checkpoint, options (with `mask_probability_threshold` = sigmoid of the logit
///   threshold) and the summary.
/// * `masks/<stem>.png`: 8-bit label mask, each pixel the label of the highest-scoring detection whose
///   mask covers it, 0 background.
/// * `overlays/<stem>.png`: the slice with tinted masks, dashed boxes, class and score (the seed's figure).
///
/// Probabilities (Appendix D/B5): the seed thresholds raw mask logits; we keep that, so the binary masks are
/// the seed's. The results file carries probabilities as COCO tools expect: the record's `score` is the box
/// softmax probability, and `mask_probability` is the mean sigmoid over the mask's pixels;
/// `inference.json` records the equivalent probability threshold.
public enum SegmentationInference {
    /// The PNG/JPEG files directly in `folder`, sorted by name, and the other (non-hidden) files.
    public static func listImages(in folder: URL) throws -> (images: [String], skipped: [String]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue,
              let entries = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw SegmentationInferenceError.missingImageFolder(path: folder.path)
        }
        var images: [String] = [], skipped: [String] = []
        for name in entries where !name.hasPrefix(".") {
            if ["png", "jpg", "jpeg"].contains((name as NSString).pathExtension.lowercased()) {
                images.append(name)
            } else {
                skipped.append(name)
            }
        }
        guard !images.isEmpty else { throw SegmentationInferenceError.noImages(folder: folder.path) }
        // Byte order, not locale order, so ids are the same on every machine.
        images.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var seen: [String: String] = [:], clashes: Set<String> = []
        for name in images {
            let stem = (name as NSString).deletingPathExtension
            if let other = seen[stem] { clashes.insert(other); clashes.insert(name) } else { seen[stem] = name }
        }
        guard clashes.isEmpty else { throw SegmentationInferenceError.duplicateNames(folder: folder.path, names: clashes.sorted()) }
        return (images, skipped.sorted())
    }

    /// Decodes one slice; failures name the file.
    public static func readSlice(_ url: URL) throws -> Image {
        let image: Image
        do {
            image = try ImageDecoder.decode(contentsOf: url)
        } catch let error as ImageIOError {
            throw SegmentationInferenceError.unreadableImage(file: url.path, reason: error.description)
        } catch {
            throw SegmentationInferenceError.unreadableImage(file: url.path, reason: "\(error)")
        }
        guard (1...4).contains(image.channels) else {
            throw SegmentationInferenceError.unexpectedChannels(file: url.path, channels: image.channels)
        }
        guard image.width > 0, image.height > 0 else {
            throw SegmentationInferenceError.unreadableImage(file: url.path, reason: "the image is empty (\(image.width)×\(image.height))")
        }
        return image
    }

    /// Runs `checkpoint` over every PNG/JPEG slice of `images` (one at a time) and writes the outputs
    /// described above into `output` (created if missing; existing files of the same names are replaced).
    /// `progress` is called after each slice with its index, file name and detection count.
    @discardableResult
    public static func run(checkpoint: URL, images: URL, output: URL,
                           options: SegmentationInferenceOptions = .init(),
                           importOptions: CheckpointImportOptions = .init(),
                           progress: ((Int, String, Int) -> Void)? = nil) throws -> SegmentationInferenceSummary {
        let start = Date()
        try options.validate()
        let (names, skipped) = try listImages(in: images)
        let model = try SegmentationCheckpoint.load(checkpoint, importOptions: importOptions)
        let loadSeconds = Date().timeIntervalSince(start)
        return try run(model: model, checkpointDescription: checkpoint.path, imageNames: names, skipped: skipped,
                       images: images, output: output, options: options, start: start, loadSeconds: loadSeconds,
                       progress: progress)
    }

    /// The same run with a model already in memory (tests, and stages that just trained one).
    @discardableResult
    public static func run(model: MaskRCNN, images: URL, output: URL, options: SegmentationInferenceOptions = .init(),
                           progress: ((Int, String, Int) -> Void)? = nil) throws -> SegmentationInferenceSummary {
        let start = Date()
        try options.validate()
        let (names, skipped) = try listImages(in: images)
        return try run(model: model, checkpointDescription: "<in memory>", imageNames: names, skipped: skipped,
                       images: images, output: output, options: options, start: start, loadSeconds: 0,
                       progress: progress)
    }

    // MARK: The loop

    /// One COCO result record with the extra `mask_probability` field (pycocotools ignores unknown keys).
    struct _ResultRecord: Encodable {
        var image_id: Int
        var category_id: Int
        var bbox: COCOBox?
        var score: Double
        var segmentation: RLEMask?
        var mask_probability: Double

        init(_ result: COCOResult, maskProbability: Double) {
            (image_id, category_id, bbox, score) = (result.imageID, result.categoryID, result.bbox, result.score)
            segmentation = result.segmentation
            mask_probability = maskProbability
        }
    }

    struct _ImageRecord: Encodable {
        var id: Int
        var file_name: String
        var height: Int
        var width: Int
    }

    struct _Category: Encodable {
        var id: Int
        var name: String
    }

    private static func run(model: MaskRCNN, checkpointDescription: String, imageNames: [String], skipped: [String],
                            images: URL, output: URL, options: SegmentationInferenceOptions, start: Date,
                            loadSeconds: Double, progress: ((Int, String, Int) -> Void)?) throws
        -> SegmentationInferenceSummary {
        precondition(model.roiHeads.maskBranch != nil,
                     "SegmentationInference needs a segmentation model with a mask branch, got the classifier flavour")
        let masksFolder = output.appendingPathComponent("masks")
        let overlaysFolder = output.appendingPathComponent("overlays")
        let overlayCount = min(options.overlayLimit ?? imageNames.count, imageNames.count)
        for (folder, wanted) in [(output, true), (masksFolder, options.writeLabelMasks), (overlaysFolder, overlayCount > 0)] where wanted {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw SegmentationInferenceError.outputFailure(path: folder.path, reason: error.localizedDescription)
            }
        }
        let configuration = model.configuration
        let names = configuration.maskType.classNames
        let post = options.postProcessing
        let overlay = DetectionOverlay(classNames: names)
        var records: [_ResultRecord] = [], imageRecords: [_ImageRecord] = []
        var detectSeconds = 0.0, imagesWithDetections = 0

        for (index, name) in imageNames.enumerated() {
            let url = images.appendingPathComponent(name)
            let image = try readSlice(url)
            let (height, width) = (image.height, image.width)
            imageRecords.append(_ImageRecord(id: index, file_name: name, height: height, width: width))

            let detectStart = Date()
            let detections = model.detect(image: image.modelInput(), postProcessing: post.detection)
            detectSeconds += Date().timeIntervalSince(detectStart)

            let segmented = SegmentedDetection.all(detections, height: height, width: width,
                                                   maskLogitThreshold: post.maskLogitThreshold)
            if !segmented.isEmpty { imagesWithDetections += 1 }
            var labelValues = [UInt8](repeating: 0, count: height * width)
            // Detections come sorted by decreasing score, so the first to claim a pixel is the highest-scoring.
            for detection in segmented {
                for (p, inside) in detection.mask.pixels.enumerated() where inside != 0 && labelValues[p] == 0 {
                    labelValues[p] = UInt8(clamping: detection.label)
                }
                records.append(_ResultRecord(detection.cocoResult(imageID: index), maskProbability: detection.maskProbability))
            }
            let stem = (name as NSString).deletingPathExtension
            if options.writeLabelMasks {
                try write(path: masksFolder.appendingPathComponent(stem + ".png")) {
                    try PNGEncoder.write(LabelMap(width: width, height: height, values: labelValues),
                                         to: masksFolder.appendingPathComponent(stem + ".png"))
                }
            }
            if index < overlayCount {
                let grey = greyPixels(image)
                let instances = segmented.map {
                    DetectionOverlay.Instance(mask: $0.maskBools, box: $0.box, label: $0.label, score: $0.score)
                }
                let canvas = overlay.render(grey: grey, width: width, height: height, instances: instances)
                let target = overlaysFolder.appendingPathComponent(stem + ".png")
                try write(path: target) {
                    try PNGEncoder.write(bytes: canvas.pixels, width: width, height: height, channels: 3, to: target)
                }
            }
            progress?(index, name, segmented.count)
        }

        let summary = SegmentationInferenceSummary(
            imageCount: imageNames.count, detectionCount: records.count, imagesWithDetections: imagesWithDetections,
            overlayCount: overlayCount, skippedFiles: skipped, loadSeconds: loadSeconds, detectSeconds: detectSeconds,
            totalSeconds: Date().timeIntervalSince(start))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let categories = (1..<names.count).map { _Category(id: $0, name: names[$0]) }
        try writeJSON(try encoder.encode(records), to: output.appendingPathComponent("detections.json"))
        struct ImagesFile: Encodable { var images: [_ImageRecord]; var categories: [_Category] }
        try writeJSON(try encoder.encode(ImagesFile(images: imageRecords, categories: categories)),
                      to: output.appendingPathComponent("images.json"))
        struct RunFile: Encodable {
            var checkpoint: String
            var images_folder: String
            var mask_type: String
            var score_threshold: Float
            var nms_threshold: Float
            var detections_per_image: Int
            var mask_logit_threshold: Float
            var mask_probability_threshold: Float
            var summary: SegmentationInferenceSummary
        }
        try writeJSON(try encoder.encode(RunFile(
            checkpoint: checkpointDescription, images_folder: images.path, mask_type: configuration.maskType.rawValue,
            score_threshold: post.scoreThreshold, nms_threshold: post.nmsThreshold,
            detections_per_image: post.detectionsPerImage, mask_logit_threshold: post.maskLogitThreshold,
            mask_probability_threshold: post.maskProbabilityThreshold, summary: summary)),
            to: output.appendingPathComponent("inference.json"))
        return summary
    }

    /// Grey values `[H·W]` in [0, 1] for the overlay: the grey channel, or the mean of R, G and B.
    static func greyPixels(_ image: Image) -> [Float] {
        let plane = image.width * image.height
        var grey = [Float](repeating: 0, count: plane)
        let channels = image.channels
        for p in 0..<plane {
            grey[p] = channels >= 3
                ? (image.pixels[p * channels] + image.pixels[p * channels + 1] + image.pixels[p * channels + 2]) / 3
                : image.pixels[p * channels]
        }
        return grey
    }

    private static func write(path: URL, _ body: () throws -> Void) throws {
        do { try body() } catch let error as ImageIOError {
            throw SegmentationInferenceError.outputFailure(path: path.path, reason: error.description)
        } catch {
            throw SegmentationInferenceError.outputFailure(path: path.path, reason: "\(error)")
        }
    }

    private static func writeJSON(_ data: Data, to url: URL) throws {
        do { try data.write(to: url, options: .atomic) } catch {
            throw SegmentationInferenceError.outputFailure(path: url.path, reason: error.localizedDescription)
        }
    }
}
