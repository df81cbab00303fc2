import Foundation
import PipelineEngine
import XCTest
@testable import SlurmExecution

/// A waiting driver shows each stage's progress read from its progress file: queued, running on which
/// node, epoch e/E with an ETA, for `--executor slurm` and `--executor process`, with a real (tiny)
/// segmentation training.
final class LiveProgressTests: XCTestCase {
    var workspace: URL!

    override func setUpWithError() throws {
        workspace = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-progress-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try """
            poll: {initial_seconds: 0.2, max_seconds: 1, growth: 1.5}
            lost_job_grace_seconds: 2
            local_cheap: true
            resources:
              cheap: {mem: 300M, time: 10}
              evaluation: {mem: 300M, time: 10}
              training: {cpus: 1, mem: 1G, time: 10}
            """.write(to: workspace.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        if let workspace { try? FileManager.default.removeItem(at: workspace) }
    }

    /// Three epochs of a tiny Mask R-CNN on 96² slices: a few seconds per epoch here.
    func pipeline(_ name: String) throws -> String {
        let url = workspace.appendingPathComponent("\(name).yaml")
        try """
            pipeline: \(name)
            seed: 5
            params: {min_size: 96, max_size: 96, backbone: resnet18, truncation: 2, area_threshold: 10}
            stages:
              data: {kind: synthesize_dataset, params: {count: 6, size: 96, layout: segmentation}}
              split:
                kind: split_dataset
                inputs: {dataset: data.dataset}
                params: {layout: segmentation, parts: [train, test], fractions: [0.67, 0.33]}
              train:
                kind: train_segmentation
                inputs: {dataset: data.dataset, splits: split.splits}
                params: {epochs: 3, learning_rate: 0.001, checkpoint_every: 1, validation_split: ""}
            """.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testASlurmRunShowsQueuedRunningOnNodeAndEpochsWithETA() throws {
        _ = try SlurmTestCluster.environment()
        let result = try MasknetProcess.run(["run", try pipeline("progress-slurm-\(UUID().uuidString.prefix(6).lowercased())"),
                                             "--store", workspace.appendingPathComponent("store").path, "--executor", "slurm",
                                             "--profile", workspace.appendingPathComponent("profile.yaml").path], in: workspace, timeout: 400)
        XCTAssertEqual(result.status, 0, result.error)
        let text = result.output + result.error
        let lines = text.split(separator: "\n").filter { $0.contains("train:") }
        XCTAssertTrue(lines.contains { $0.contains("running on ") && $0.contains("Slurm job") }, text)
        XCTAssertTrue(lines.contains { $0.contains("running on ") && $0.range(of: "epoch [1-3]/3", options: .regularExpression) != nil && $0.contains("ETA") }, text)
    }

    func testAProcessRunShowsEpochsFromTheProgressFile() throws {
        let result = try MasknetProcess.run(["run", try pipeline("progress-process-\(UUID().uuidString.prefix(6).lowercased())"),
                                             "--store", workspace.appendingPathComponent("store").path, "--executor", "process"],
                                            in: workspace, timeout: 400)
        XCTAssertEqual(result.status, 0, result.error)
        let text = result.output + result.error
        XCTAssertTrue(text.split(separator: "\n").contains { $0.contains("train:") && $0.range(of: "epoch [1-3]/3", options: .regularExpression) != nil && $0.contains("ETA") }, text)
    }
}
