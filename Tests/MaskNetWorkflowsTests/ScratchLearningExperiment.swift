import CTDatasets
import Foundation
import MaskNetWorkflows
import ObjectDetection
import VisionBackbones
import XCTest

final class ScratchLearningExperiment: XCTestCase {
    func testLearnExperiment() throws {
        guard let epochs = ProcessInfo.processInfo.environment["LEARN_EPOCHS"].flatMap(Int.init) else { throw XCTSkip("experiment") }
        let lr = Double(ProcessInfo.processInfo.environment["LEARN_LR"] ?? "1e-4")!
        let root = URL(fileURLWithPath: "/tmp/learn-data")
        if !FileManager.default.fileExists(atPath: root.path) {
            var c = SyntheticCTConfiguration(seed: 11, size: 128, count: 400, layout: .segmentation)
            c.segmentationCount = 400
            _ = try SyntheticCTGenerator(c).write(to: root)
        }
        let seg = root.appendingPathComponent("segmentation")
        let names = try SegmentationDataset(root: seg).imageNames
        let parts = try DatasetSplit.random(names: names, fractions: [0.75, 0.25], seed: 1, unit: .segmentationScan)
        try DatasetSplit.write(parts[0], to: URL(fileURLWithPath: "/tmp/learn-train.txt"))
        try DatasetSplit.write(parts[1], to: URL(fileURLWithPath: "/tmp/learn-test.txt"))
        var model = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1), maskType: .merge)
        let minSize = Int(ProcessInfo.processInfo.environment["LEARN_MIN"] ?? "128")!; model.minSize = minSize; model.maxSize = 2 * minSize
        var training = SegmentationTrainingConfiguration()
        training.epochs = epochs; training.learningRate = lr; training.seed = 5; training.checkpointEvery = 1
        let out = URL(fileURLWithPath: "/tmp/learn-out"); try? FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let start = Date()
        try SegmentationTrainingWorkflow(model: model, training: training).run(
            dataset: seg, trainSplit: URL(fileURLWithPath: "/tmp/learn-train.txt"), validationSplit: nil,
            resumeCheckpoint: out.appendingPathComponent("resume.safetensors"),
            outputCheckpoint: out.appendingPathComponent("final-\(Int(Date().timeIntervalSince1970)).safetensors"),
            outputHistory: out.appendingPathComponent("history.json"), outputCurve: out.appendingPathComponent("curve.png"),
            progress: { p in if p.step % 100 == 0 { print("epoch \(p.epoch) step \(p.step)/\(p.steps) loss \(p.loss) \(p.slicesPerSecond)/s") } },
            log: { print($0, Date().timeIntervalSince(start)) })
        for score in [Float(0.05), 0.3, 0.6] {
        var ev = SegmentationEvaluationWorkflow(); ev.scoreThreshold = score
        let result = try ev.run(checkpoint: out.appendingPathComponent("resume.safetensors"), dataset: seg,
                                                              split: URL(fileURLWithPath: "/tmp/learn-test.txt"), outputDirectory: out.appendingPathComponent("eval"))
        print("RESULT", score, result.seedMAP.summaryLines, result.cocoMask.summaryLines.prefix(3), Date().timeIntervalSince(start))
        }
    }
}
