import Foundation
import PipelineEngine
import XCTest
@testable import SlurmExecution

/// A waiting driver shows each stage's progress read from its progress file: queued, running on which
/// node, epoch e/E with an ETA, for `--executor slurm` and `--executor process`, with a real (tiny)
/// segmentation training; and that training, paused by USR2, resumes exactly.
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

    /// `epochs` epochs of a tiny Mask R-CNN on 96² slices (`count` generated, two thirds for training): a
    /// second or two per epoch with 6 slices.
    func pipeline(_ name: String, count: Int = 6, epochs: Int = 3) throws -> String {
        let url = workspace.appendingPathComponent("\(name).yaml")
        try """
            pipeline: \(name)
            seed: 5
            params: {min_size: 96, max_size: 96, backbone: resnet18, truncation: 2, area_threshold: 10}
            stages:
              data: {kind: synthesize_dataset, params: {count: \(count), size: 96, layout: segmentation}}
              split:
                kind: split_dataset
                inputs: {dataset: data.dataset}
                params: {layout: segmentation, parts: [train, test], fractions: [0.67, 0.33]}
              train:
                kind: train_segmentation
                inputs: {dataset: data.dataset, splits: split.splits}
                params: {epochs: \(epochs), learning_rate: 0.001, checkpoint_every: 1, validation_split: ""}
            """.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testASlurmRunShowsQueuedRunningOnNodeAndEpochsWithETA() throws {
        _ = try SlurmTestCluster.environment()
        // 30 slices (20 to train on): the training must outlast a few of the driver's polls (at most 1 s
        // apart) for one of them to find an epoch in the progress file; with 6 slices the whole job took 1.75 s
        // on CI and no poll landed inside it.
        let result = try MasknetProcess.run(["run", try pipeline("progress-slurm-\(UUID().uuidString.prefix(6).lowercased())", count: 30),
                                             "--store", workspace.appendingPathComponent("store").path, "--executor", "slurm",
                                             "--profile", workspace.appendingPathComponent("profile.yaml").path], in: workspace, timeout: 400)
        XCTAssertEqual(result.status, 0, result.error)
        let text = result.output + result.error
        let lines = text.split(separator: "\n").filter { $0.contains("train:") }
        XCTAssertTrue(lines.contains { $0.contains("running on ") && $0.contains("Slurm job") }, text)
        XCTAssertTrue(lines.contains { $0.contains("running on ") && $0.range(of: "epoch [1-3]/3", options: .regularExpression) != nil && $0.contains("ETA") }, text)
    }

    func testAProcessRunShowsEpochsFromTheProgressFile() throws {
        let result = try MasknetProcess.run(["run", try pipeline("progress-process-\(UUID().uuidString.prefix(6).lowercased())", count: 30),
                                             "--store", workspace.appendingPathComponent("store").path, "--executor", "process"],
                                            in: workspace, timeout: 400)
        XCTAssertEqual(result.status, 0, result.error)
        let text = result.output + result.error
        XCTAssertTrue(text.split(separator: "\n").contains { $0.contains("train:") && $0.range(of: "epoch [1-3]/3", options: .regularExpression) != nil && $0.contains("ETA") }, text)
    }

    /// A real `train_segmentation` job that gets USR2 (Slurm's warning before a time limit) pauses at its next
    /// step with a checkpoint of the epoch in progress; the runner resubmits it, the new job resumes inside
    /// that epoch, and the stage ends with the checkpoint a local, uninterrupted run writes, byte for byte
    /// (on one thread in the job, two locally).
    func testUSR2PausesTrainingMidEpochAndTheResubmittedJobEndsWithTheUninterruptedCheckpoint() throws {
        _ = try SlurmTestCluster.environment()
        let name = "pause-\(UUID().uuidString.prefix(6).lowercased())"
        let pipeline = try pipeline(name, count: 40, epochs: 2)
        let localStore = workspace.appendingPathComponent("local-store").path
        let local = try MasknetProcess.run(["run", pipeline, "--store", localStore, "--threads", "2"], in: workspace, timeout: 400)
        XCTAssertEqual(local.status, 0, local.error)
        let uninterrupted = try RunFolder.latest(in: localStore).lock()["train"]?.outputs["checkpoint.safetensors"]

        let store = workspace.appendingPathComponent("slurm-store").path
        let driver = try MasknetProcess.start(["run", pipeline, "--store", store, "--executor", "slurm", "--profile",
                                               workspace.appendingPathComponent("profile.yaml").path], in: workspace)
        let jobID = try SlurmTestCluster.runningJob(of: name, stage: "train", seconds: 240)
        try SlurmTestCluster.wait(seconds: 120, "the training job two steps into its first epoch") {
            guard let now = try progress(in: store) else { return false }
            return now.epoch == 1 && now.step >= 2
        }
        _ = try SlurmTestCluster.client().commandLine.run("scancel", ["--signal=USR2", "--batch", jobID])
        let result = driver.wait(timeout: 400)
        XCTAssertEqual(result.status, 0, result.output + result.error)

        let run = try RunFolder.latest(in: store)
        let jobs = (try run.accounting()["jobs"] as? [[String: Any]] ?? []).filter { $0["stage"] as? String == "train" }
        XCTAssertEqual(jobs.count, 2, "submitted once more after USR2: \(jobs)")
        // The jobs' logs (stage exec's own lines) and the stage log (the trainer's lines), wherever they are kept.
        var logs: [String] = []
        if let files = FileManager.default.enumerator(at: run.url, includingPropertiesForKeys: nil) {
            for case let file as URL in files where file.pathExtension == "log" {
                logs.append((try? String(contentsOf: file, encoding: .utf8)) ?? "")
            }
        }
        XCTAssertTrue(logs.joined().contains("pausing at the next step"), logs.joined(separator: "\n----\n"))
        XCTAssertNotNil(logs.joined().range(of: "resumed from [^ ]+ inside epoch 1, after [1-9][0-9]* of [0-9]+ steps", options: .regularExpression),
                        "the second job resumes inside the first epoch: \(logs.joined(separator: "\n----\n"))")
        XCTAssertEqual(try run.lock()["train"]?.outputs["checkpoint.safetensors"], uninterrupted,
                       "the paused and resumed training ends with the uninterrupted run's checkpoint")
    }

    /// The epoch and step of the training stage's live progress file, once it exists.
    private func progress(in store: String) throws -> (epoch: Int, step: Int)? {
        guard let run = try? RunFolder.latest(in: store) else { return nil }
        let url = run.url.appendingPathComponent("progress/train.json")
        guard let data = try? Data(contentsOf: url),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        guard let epoch = json["epoch"] as? Int, let step = json["step"] as? Int else { return nil }
        return (epoch, step)
    }
}
