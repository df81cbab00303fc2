import Foundation
import NeuralNetwork
import ObjectDetection

/// A classifier-side error found before any training starts (spec issue 6 "Bad input").
public struct ClassifierSetupError: Error, CustomStringConvertible {
    public var file: String
    public var problems: [String]
    public var description: String {
        "\(file): cannot build the classifier from this checkpoint:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
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
    public static func classifier(fromSegmentation checkpoint: SafeTensorsFile, roiBatchSize: Int, features: Int,
                                  expected: MaskRCNNConfiguration?, seed: UInt64) throws
        -> (model: CovidCTMaskNet, report: WeightTransferReport) {
        guard let detector = MaskRCNNConfiguration.from(metadata: checkpoint.metadata) else {
            throw ClassifierSetupError(file: checkpoint.source, problems: [
                "no masknet configuration in its metadata; convert original .pth checkpoints with Tools/convert_checkpoint.py first"])
        }
        var problems: [String] = []
        if let expected {
            if expected.backbone != detector.backbone {
                problems.append("it holds a \(detector.backbone.depth.rawValue) truncation \(detector.backbone.truncation) backbone, the classifier asks for \(expected.backbone.depth.rawValue) truncation \(expected.backbone.truncation)")
            }
            if expected.classCount != detector.classCount {
                problems.append("it detects \(detector.classCount) classes (mask type \(detector.maskType.rawValue)), the classifier asks for \(expected.classCount) (mask type \(expected.maskType.rawValue))")
            }
        }
        guard problems.isEmpty else { throw ClassifierSetupError(file: checkpoint.source, problems: problems) }
        let model = CovidCTMaskNet(configuration: ClassifierConfiguration(detector: detector, roiBatchSize: roiBatchSize,
                                                                          features: features), seed: seed)
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
        var problems: [String] = []
        if let roiBatchSize, roiBatchSize != configuration.roiBatchSize {
            problems.append("it was trained with D = roi_batch_size \(configuration.roiBatchSize), asked for \(roiBatchSize)")
        }
        if let features, features != configuration.features {
            problems.append("it was trained with s = s_features \(configuration.features), asked for \(features)")
        }
        guard problems.isEmpty else { throw ClassifierSetupError(file: checkpoint.source, problems: problems) }
        let model = CovidCTMaskNet(configuration: configuration, seed: 0)
        try model.parameters.load(from: checkpoint.removing(prefix: "optimizer."), strict: true)
        return model
    }
}
