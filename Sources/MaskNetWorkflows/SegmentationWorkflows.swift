import CTDatasets
import EvaluationMetrics
import Foundation
import ImageIO
import NeuralNetwork
import ObjectDetection
import TensorCore
import Visualization

/// A user-facing failure of a workflow: says what is wrong, where, and what to do.
public struct WorkflowError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Opens a segmentation data set restricted to a split file's names (or all slices without one).
public func openSegmentationDataset(root: URL, split: URL?, maskType: MaskType, areaThreshold: Int)
    throws -> SegmentationDataset {
    let names = try split.map { try DatasetSplit.read(from: $0) }
    return try SegmentationDataset(root: root, maskType: maskType, areaThreshold: areaThreshold, split: names,
                                   splitFile: split?.path ?? "<split>")
}

/// Train the seed's Mask R-CNN on a CNCB-layout data set (stage `train_segmentation`).
public struct SegmentationTrainingWorkflow {
    public var model: MaskRCNNConfiguration
    public var training: SegmentationTrainingConfiguration
    public var areaThreshold = 100

    public init(model: MaskRCNNConfiguration, training: SegmentationTrainingConfiguration) {
        self.model = model
        self.training = training
    }

    /// Trains (resuming from `resumeCheckpoint` if it exists), then writes the final checkpoint, the
    /// per-epoch history as JSON, and (given `records`) `metrics.csv`, TensorBoard events and charts;
    /// the scalar journal lives beside `resumeCheckpoint`.
    @discardableResult
    public func run(dataset root: URL, trainSplit: URL?, validationSplit: URL?, resumeCheckpoint: URL,
                    outputCheckpoint: URL, outputHistory: URL, records: TrainingRecordOutputs?,
                    progress: (TrainingProgress) -> Void, checkCancellation: () throws -> Void = {},
                    pauseRequested: () -> Bool = { false }, log: (String) -> Void) throws -> Outcome {
        let maskType = model.maskType
        let trainSet = try openSegmentationDataset(root: root, split: trainSplit, maskType: maskType, areaThreshold: areaThreshold)
        let validationSet = try validationSplit.map {
            try openSegmentationDataset(root: root, split: $0, maskType: maskType, areaThreshold: areaThreshold)
        }
        // Bad input before any training: every pair readable and consistent, and some lesion to learn from
        // (the check decodes each mask once; images are decoded by the first epoch).
        let lesionSlices = try trainSet.validate()
        try validationSet?.validate()
        // A data set without any lesion above the area threshold cannot train the detector: say so now.
        guard lesionSlices > 0 else {
            throw WorkflowError("\(root.path): none of the \(trainSet.count) training slices has a lesion larger than \(areaThreshold) px, so there is nothing to learn from; check the masks (values 2 and 3 mark lesions) or lower area_threshold")
        }
        let detector = MaskRCNN(configuration: model, seed: training.seed)
        let trainer = SegmentationTrainer(model: detector, configuration: training)
        if FileManager.default.fileExists(atPath: resumeCheckpoint.path) {
            try trainer.resume(from: resumeCheckpoint)
            log(TrainingRecorder.resumedMessage(resumeCheckpoint, completedEpochs: trainer.completedEpochs,
                                                point: trainer.resumePoint, unit: "steps"))
        }
        let recorder = try TrainingRecorder(journal: resumeCheckpoint.deletingLastPathComponent().appendingPathComponent("scalars.csv"),
                                            completedEpochs: trainer.completedEpochs, resumePoint: trainer.resumePoint,
                                            learningRate: training.learningRate)
        let source = DataSources.segmentation(trainSet)
        try trainer.train(training: source, validation: validationSet.map(DataSources.segmentation),
                          checkpoint: resumeCheckpoint, progress: { recorder.step($0); progress($0) },
                          checkCancellation: checkCancellation, pauseRequested: pauseRequested) { record in
            recorder.epoch(record.epoch, ["train_loss": record.trainLoss, "validation_loss": record.validationLoss])
            log(String(format: "epoch %d: train loss %.4f%@ (%d slices used, %d empty skipped, %.1f s)", record.epoch,
                       record.trainLoss, record.validationLoss.map { String(format: ", validation loss %.4f", $0) } ?? "",
                       record.usedSlices, record.skippedEmptySlices, record.seconds))
        }
        try TrainingOutputs.publish(
            checkpoint: resumeCheckpoint, as: outputCheckpoint, history: trainer.history, to: outputHistory,
            recorder: recorder, records: records, title: "Segmentation")
        return Outcome(lastEpoch: trainer.history.last, trainableParameters: detector.parameters.trainableCount)
    }

    /// What a training run ends with.
    public struct Outcome: Sendable {
        /// The last epoch's record (nil when no epoch ran).
        public var lastEpoch: EpochRecord?
        /// Trainable parameters of the trained model (counted on it, not on a second model).
        public var trainableParameters: Int
    }
}

/// Seed mAP and COCO statistics of a checkpoint on a data set (stage `evaluate_map`).
public struct SegmentationEvaluationWorkflow {
    /// Thresholds; the defaults are the seed's mAP script's (spec §7.1, B19: explicit).
    public var postProcessing = SegmentationPostProcessing.evaluation
    public var areaThreshold = 100
    /// Overlays written for the first this many slices.
    public var overlayCount = 6
    /// Slices in each of the seed-style figures (those with the most lesion pixels, and the worst by AP).
    public var figureSlices = 4
    /// Detections drawn in the figures need at least this score (the evaluation keeps lower ones for AP).
    public var figureScoreThreshold: Float = 0.5

    public init() {}

    public struct Result: Codable, Sendable {
        public var seedMAP: SeedMAPResult
        public var cocoBox: COCOStatistics
        public var cocoMask: COCOStatistics
        public var imageCount: Int
        public var groundTruthCount: Int
        public var detectionCount: Int

        /// Flat metrics for gates and run records.
        public var metrics: [String: Double] {
            var metrics: [String: Double] = ["seed_map": seedMAP.mean, "images": Double(imageCount),
                                             "ground_truth_instances": Double(groundTruthCount),
                                             "detections": Double(detectionCount)]
            for (threshold, ap) in zip(seedMAP.thresholds, seedMAP.averagePrecisions) {
                metrics[String(format: "seed_ap%02d", Int((threshold * 100).rounded()))] = ap
            }
            for (prefix, statistics) in [("coco_bbox", cocoBox), ("coco_segm", cocoMask)] {
                for (name, value) in zip(COCOStatistics.names, statistics.values) {
                    metrics["\(prefix)_\(name.lowercased())"] = value
                }
            }
            return metrics
        }
    }

    /// Evaluates; writes `metrics.json`, COCO `ground_truth.json` and `detections.json`, overlays, and
    /// `figures/` (precision–recall curves, AP against IoU, the seed's four-column figure for the slices
    /// with the most lesion pixels and for the worst slices).
    public func run(checkpoint: URL, dataset root: URL, split: URL?, outputDirectory: URL,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        try postProcessing.validate()
        let model = try SegmentationCheckpoint.load(checkpoint)
        let configuration = model.configuration
        let maskType = configuration.maskType
        let dataset = try openSegmentationDataset(root: root, split: split, maskType: maskType, areaThreshold: areaThreshold)
        try dataset.validate()
        try FileManager.default.createDirectory(at: outputDirectory.appendingPathComponent("overlays"),
                                                withIntermediateDirectories: true)
        var accumulator = SeedMeanAPAccumulator(thresholds: SeedMeanAP.thresholds)
        var images: [COCOImage] = [], groundTruth: [COCOAnnotation] = [], results: [COCOResult] = []
        var lesionPixels: [Int] = []
        let classNames = maskType.classNames
        for index in 0..<dataset.count {
            let sample = try dataset.sample(at: index)
            let (height, width) = (sample.height, sample.width)
            let imageID = index + 1
            images.append(COCOImage(id: imageID, height: height, width: width))
            lesionPixels.append(sample.instances.reduce(0) { $0 + $1.area })
            var gts: [SeedMAPGroundTruth] = []
            for instance in sample.instances {
                let mask = BinaryMask(height: height, width: width, pixels: instance.mask)
                gts.append(SeedMAPGroundTruth(mask: mask, label: instance.label))
                let rle = RLEMask(encoding: mask)
                groundTruth.append(COCOAnnotation(id: groundTruth.count + 1, imageID: imageID, categoryID: instance.label,
                                                  area: Double(rle.area), bbox: rle.boundingBox, segmentation: .rle(rle)))
            }
            let segmented = SegmentedDetection.all(model.detect(image: sample.image, postProcessing: postProcessing.detection),
                                                   height: height, width: width,
                                                   maskLogitThreshold: postProcessing.maskLogitThreshold)
            let predictions = segmented.map { SeedMAPPrediction(mask: $0.mask, score: $0.score, label: $0.label) }
            results.append(contentsOf: segmented.map { $0.cocoResult(imageID: imageID) })
            accumulator.add(SeedMAPImage(groundTruths: gts, predictions: predictions))
            if index < overlayCount {
                let grey = Array(sample.image.scalars.prefix(height * width))
                let overlay = DetectionOverlay(classNames: classNames).render(
                    grey: grey, width: width, height: height,
                    instances: segmented.map {
                        DetectionOverlay.Instance(mask: $0.maskBools, box: $0.box, label: $0.label, score: $0.score)
                    })
                try PNGEncoder.write(bytes: overlay.pixels, width: width, height: height, channels: 3,
                                     to: outputDirectory.appendingPathComponent("overlays")
                                        .appendingPathComponent((sample.name as NSString).deletingPathExtension + ".png"))
            }
            progress(index + 1, dataset.count)
        }
        let categories = Array(1..<configuration.classCount)
        let coco = COCOGroundTruth(images: images, categoryIDs: categories, annotations: groundTruth, source: "ground_truth.json")
        let cocoDetections = COCODetections(annotations: results.enumerated().map { index, r in
            COCOAnnotation(id: index + 1, imageID: r.imageID, categoryID: r.categoryID, area: Double(r.segmentation?.area ?? 0),
                           bbox: r.bbox, segmentation: r.segmentation.map { .rle($0) }, score: r.score)
        }, source: "detections.json")
        let boxStatistics = try COCOEvaluator.evaluate(groundTruth: coco, detections: cocoDetections, iouType: .bbox).statistics
        let maskEvaluation = try COCOEvaluator.evaluate(groundTruth: coco, detections: cocoDetections, iouType: .segm)
        let maskStatistics = maskEvaluation.statistics
        let result = Result(seedMAP: accumulator.result, cocoBox: boxStatistics, cocoMask: maskStatistics,
                            imageCount: dataset.count, groundTruthCount: groundTruth.count, detectionCount: results.count)
        try COCOResult.jsonData(results).write(to: outputDirectory.appendingPathComponent("detections.json"), options: .atomic)
        try CocoGroundTruthWriter.data(images: images, categories: categories.map { ($0, classNames[$0]) }, annotations: groundTruth)
            .write(to: outputDirectory.appendingPathComponent("ground_truth.json"), options: .atomic)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(result.metrics).write(to: outputDirectory.appendingPathComponent("metrics.json"), options: .atomic)
        try writeFigures(model: model, dataset: dataset, seedMAP: result.seedMAP, maskEvaluation: maskEvaluation,
                         lesionPixels: lesionPixels, classNames: classNames, to: outputDirectory.appendingPathComponent("figures"))
        return result
    }

    /// The evaluation's figures. The slices of the seed-style figures are detected again (a handful, so
    /// the evaluation loop keeps no images or logits in memory).
    func writeFigures(model: MaskRCNN, dataset: SegmentationDataset, seedMAP: SeedMAPResult, maskEvaluation: COCOEvaluation,
                      lesionPixels: [Int], classNames: [String], to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try EvaluationFigures.precisionRecall(maskEvaluation).write(to: folder.appendingPathComponent("3-precision-recall.svg"))
        try EvaluationFigures.apAgainstIoU(seed: seedMAP, coco: maskEvaluation).write(to: folder.appendingPathComponent("4-ap-vs-iou.svg"))
        guard figureSlices > 0 else { return }
        let perImageAP = lesionPixels.indices.map { i in
            seedMAP.perImage.reduce(0.0) { $0 + Double($1[i]) } / Double(max(seedMAP.perImage.count, 1))
        }
        let withLesions = lesionPixels.indices.filter { lesionPixels[$0] > 0 }
        let most = Array(withLesions.sorted { (lesionPixels[$0], -$0) > (lesionPixels[$1], -$1) }.prefix(figureSlices))
        let worst = Array(withLesions.sorted { (perImageAP[$0], -lesionPixels[$0], $0) < (perImageAP[$1], -lesionPixels[$1], $1) }.prefix(figureSlices))
        for (name, title, indices) in [("1-slices-most-lesions.svg", "Test slices with the most lesion pixels", most),
                                       ("2-slices-worst.svg", "Test slices with the lowest AP", worst)] where !indices.isEmpty {
            let rows = try indices.map { index in
                try figureRow(model: model, sample: try dataset.sample(at: index),
                              note: String(format: "AP %.2f (mean over IoU 0.50:0.95), %d lesion px", perImageAP[index], lesionPixels[index]))
            }
            let figure = SliceFigure(title: "\(title) (detections with score ≥ \(figureScoreThreshold))", classNames: classNames, rows: rows)
            try figure.render(png: EvaluationFigures.png).write(to: folder.appendingPathComponent(name))
        }
    }

    func figureRow(model: MaskRCNN, sample: SegmentationSample, note: String) throws -> SliceFigure.Row {
        let (height, width) = (sample.height, sample.width)
        let pixels = height * width
        let detections = model.detect(image: sample.image, postProcessing: postProcessing.detection)
        let logits = detections.masks.scalars
        let shown = detections.labels.indices.filter { detections.scores[$0] >= figureScoreThreshold }
            .sorted { detections.scores[$0] > detections.scores[$1] }.prefix(8)
        let predictions = shown.map { d in
            let maskLogits = Array(logits[(d * pixels)..<((d + 1) * pixels)])
            return SliceFigure.Instance(mask: maskLogits.map { $0 > postProcessing.maskLogitThreshold }, box: Array(detections.boxes.scalars[(4 * d)..<(4 * d + 4)]),
                                        label: detections.labels[d], score: detections.scores[d], logits: maskLogits)
        }
        let truth = sample.instances.map { instance in
            SliceFigure.Instance(mask: instance.mask.map { $0 != 0 }, box: instance.box, label: instance.label)
        }
        return SliceFigure.Row(name: sample.name, grey: Array(sample.image.scalars.prefix(pixels)), width: width, height: height,
                               predictions: predictions, groundTruth: truth, note: note)
    }
}

/// Writes ground truth in the COCO format (RLE segmentations) so that pycocotools can re-check our numbers.
enum CocoGroundTruthWriter {
    struct File: Encodable {
        struct Image: Encodable { var id: Int, height: Int, width: Int }
        struct Category: Encodable { var id: Int, name: String }
        struct Annotation: Encodable {
            var id: Int, image_id: Int, category_id: Int, area: Double, bbox: COCOBox?, segmentation: RLEMask?, iscrowd: Int
        }
        var images: [Image], categories: [Category], annotations: [Annotation]
    }

    static func data(images: [COCOImage], categories: [(id: Int, name: String)], annotations: [COCOAnnotation]) throws -> Data {
        let file = File(
            images: images.map { File.Image(id: $0.id, height: $0.height, width: $0.width) },
            categories: categories.map { File.Category(id: $0.id, name: $0.name) },
            annotations: annotations.map { annotation in
                var rle: RLEMask? = nil
                if case .rle(let mask)? = annotation.segmentation { rle = mask }
                return File.Annotation(id: annotation.id, image_id: annotation.imageID, category_id: annotation.categoryID,
                                       area: annotation.area, bbox: annotation.bbox, segmentation: rle, iscrowd: annotation.isCrowd ? 1 : 0)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(file)
    }
}

/// What every training workflow publishes at the end: the final checkpoint, the per-epoch history as
/// JSON, and the recorder's scalars and charts.
enum TrainingOutputs {
    static func publish<History: Encodable>(checkpoint: URL, as output: URL, history: History, to historyURL: URL,
                                            recorder: TrainingRecorder, records: TrainingRecordOutputs?, title: String) throws {
        try FileManager.default.copyItem(at: checkpoint, to: output)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(history).write(to: historyURL, options: .atomic)
        if let records { try recorder.publish(records, title: title) }
    }
}
