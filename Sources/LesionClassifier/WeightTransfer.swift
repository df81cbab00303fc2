import Foundation
import NeuralNetwork
import ObjectDetection

/// A classifier-side error found before any training starts (spec issue 6 "Bad input").
public struct ClassifierSetupError: Error, CustomStringConvertible {
    /// The checkpoint (or source description) at fault.
    public var file: String
    /// Every problem found, one sentence each, saying what to do where it can.
    public var problems: [String]

    /// An error about `file` listing `problems`.
    public init(file: String, problems: [String]) {
        self.file = file
        self.problems = problems
    }

    /// The file and one line per problem.
    public var description: String {
        "\(file): cannot set up the classifier:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// What `transfer_weights` did, for the run record.
public struct WeightTransferReport: Codable, Sendable {
    /// Keys copied from the segmentation checkpoint.
    public var copied: [String]
    /// Checkpoint keys not used by the classifier (the mask branch).
    public var dropped: [String]
    /// Classifier keys left at their fresh init (module S).
    public var freshlyInitialised: [String]
}

/// Spec §5.2: builds a classifier whose every tensor shared with a segmentation checkpoint is copied
/// (backbone incl. BN running statistics, FPN, RPN head, box head and predictor), mask head dropped,
/// S freshly initialised from `seed`.
public enum WeightTransfer {
    /// - Parameters:
    ///   - checkpoint: a segmentation checkpoint written with masknet metadata (Appendix D/B15).
    ///   - roiBatchSize: D; `features`: s.
    ///   - expected: the detector the caller asks for; a checkpoint of another backbone, truncation or
    ///     class count is refused before anything is built.
    ///   - roiNMSThreshold: the classifier's per-class NMS (`roi_nms_th`).
    ///   - trainDownsampleBatchNorm: also train the downsample BN affine parameters (B10).
    ///   - trainBatchNormAffine: train the BN affine parameters beside S (the seed's set); false trains S alone.
    ///   - trainBoxPredictor: also train the RoI box predictor.
    ///   - rankedRows: what S's ranked rows hold besides the seed's columns (class columns, score encoding).
    /// - Throws: `ClassifierSetupError` naming the file and every problem.
    public static func classifier(fromSegmentation checkpoint: SafeTensorsFile, roiBatchSize: Int, features: Int,
                                  expected: MaskRCNNConfiguration?, seed: UInt64, roiNMSThreshold: Float = 0.75,
                                  trainDownsampleBatchNorm: Bool = false, trainBatchNormAffine: Bool = true,
                                  trainBoxPredictor: Bool = false, rankedRows: RankedRowLayout = .seed) throws
        -> (model: CovidCTMaskNet, report: WeightTransferReport) {
        if checkpoint.metadata["format"] == "masknet-classifier" {
            throw ClassifierSetupError(file: checkpoint.source, problems: [
                "it is a classifier checkpoint, not a segmentation one; load it as a classifier checkpoint (it already holds S)"])
        }
        guard let detector = MaskRCNNConfiguration.from(metadata: checkpoint.metadata) else {
            throw ClassifierSetupError(file: checkpoint.source, problems: [
                "no masknet configuration in its metadata; convert original .pth checkpoints with Tools/convert_checkpoint.py first"])
        }
        var problems = expected.map { mismatches(detector, expected: $0) } ?? []
        if roiBatchSize < 1 { problems.append("D = roi_batch_size must be at least 1, got \(roiBatchSize)") }
        if features < 1 { problems.append("s = s_features must be at least 1, got \(features)") }
        guard problems.isEmpty else { throw ClassifierSetupError(file: checkpoint.source, problems: problems) }
        var configuration = ClassifierConfiguration(detector: detector, roiBatchSize: roiBatchSize, features: features)
        configuration.roiNMSThreshold = roiNMSThreshold
        configuration.trainDownsampleBatchNorm = trainDownsampleBatchNorm
        configuration.trainBatchNormAffine = trainBatchNormAffine
        configuration.trainBoxPredictor = trainBoxPredictor
        configuration.rankedRows = rankedRows
        let model = CovidCTMaskNet(configuration: configuration, seed: seed)
        let report = try model.parameters.load(from: checkpoint.removing(prefix: "optimizer."), strict: false)
        let fresh = report.missing
        guard fresh.allSatisfy({ $0.hasPrefix("s2new.") }) else {
            throw ClassifierSetupError(file: checkpoint.source, problems: [
                "it lacks detector tensors the classifier needs: " + fresh.filter { !$0.hasPrefix("s2new.") }.joined(separator: ", ")])
        }
        return (model, WeightTransferReport(copied: report.loaded, dropped: report.unexpected, freshlyInitialised: fresh))
    }

    /// Loads a classifier checkpoint strictly, checking D and s against what the caller asks for.
    public static func classifier(fromClassifier checkpoint: SafeTensorsFile, roiBatchSize: Int?, features: Int?) throws
        -> CovidCTMaskNet {
        guard let configuration = ClassifierConfiguration.from(metadata: checkpoint.metadata) else {
            throw ClassifierSetupError(file: checkpoint.source, problems: ["not a masknet classifier checkpoint (no classifier configuration in its metadata)"])
        }
        let problems = mismatches(configuration, roiBatchSize: roiBatchSize, features: features)
        guard problems.isEmpty else { throw ClassifierSetupError(file: checkpoint.source, problems: problems) }
        let model = CovidCTMaskNet(configuration: configuration, seed: 0)
        try model.parameters.load(from: checkpoint.removing(prefix: "optimizer."), strict: true)
        return model
    }

    /// What differs between the detector a checkpoint holds and the one asked for (backbone with
    /// truncation, and class count), one sentence each.
    static func mismatches(_ found: MaskRCNNConfiguration, expected: MaskRCNNConfiguration) -> [String] {
        var problems: [String] = []
        if expected.backbone != found.backbone {
            problems.append("it holds a \(found.backbone.depth.rawValue) truncation \(found.backbone.truncation) backbone, the classifier asks for \(expected.backbone.depth.rawValue) truncation \(expected.backbone.truncation)")
        }
        if expected.classCount != found.classCount {
            problems.append("it detects \(found.classCount) classes (mask type \(found.maskType.rawValue)), the classifier asks for \(expected.classCount) (mask type \(expected.maskType.rawValue))")
        }
        return problems
    }

    /// D and s of a classifier checkpoint against what the caller asks for (nil: accept the checkpoint's).
    static func mismatches(_ found: ClassifierConfiguration, roiBatchSize: Int?, features: Int?) -> [String] {
        var problems: [String] = []
        if let roiBatchSize, roiBatchSize != found.roiBatchSize {
            problems.append("it was trained with D = roi_batch_size \(found.roiBatchSize), asked for \(roiBatchSize); S's first layer only fits the D it was built with")
        }
        if let features, features != found.features {
            problems.append("it was trained with s = s_features \(found.features), asked for \(features)")
        }
        return problems
    }
}
