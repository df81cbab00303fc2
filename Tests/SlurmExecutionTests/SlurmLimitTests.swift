import Foundation
import PipelineEngine
import XCTest
@testable import SlurmExecution

/// A job over a partition limit is never started by Slurm (held with reason PartitionTimeLimit): the stage
/// fails at once with an error naming the limit, instead of waiting forever; cheap stages still run locally.
final class SlurmLimitTests: XCTestCase {
    var workspace: URL!

    override func setUpWithError() throws {
        _ = try SlurmTestCluster.environment()
        workspace = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-slurm-limit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let workspace { try? FileManager.default.removeItem(at: workspace) }
    }

    func testAJobOverThePartitionTimeLimitFailsNamingTheLimitWhileCheapStagesRunLocally() throws {
        let client = try SlurmTestCluster.client()
        // The test cluster's partition `limited` has MaxTime=2 (minutes), as Tools/slurm-cluster.sh writes it.
        guard (try client.commandLine.run("scontrol", ["show", "partition", "limited"])).succeeded else {
            return XCTFail("the test cluster has no partition 'limited': restart it with the current Tools/slurm-cluster.sh")
        }
        try """
            poll: {initial_seconds: 0.2, max_seconds: 1, growth: 1.5}
            lost_job_grace_seconds: 2
            partition: limited
            resources:
              cheap: {mem: 200M, time: 1}
              evaluation: {mem: 200M, time: 10}
              training: {mem: 200M, time: 10}
            """.write(to: workspace.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
        let name = "slurm-limit-\(UUID().uuidString.prefix(6).lowercased())"
        let pipeline = workspace.appendingPathComponent("limit.yaml")
        try """
            pipeline: \(name)
            seed: 2
            stages:
              data: {kind: synthesize_dataset, params: {count: 10, size: 32, layout: segmentation}}
              split:
                kind: split_dataset
                inputs: {dataset: data.dataset}
                params: {layout: segmentation, parts: [a, b], fractions: [0.5, 0.5]}
              count:
                kind: command
                inputs: {splits: split.splits}
                params: {run: 'ls "$IN_splits" | wc -l > n.txt', outputs: [n.txt]}
            """.write(to: pipeline, atomically: true, encoding: .utf8)
        let store = workspace.appendingPathComponent("store").path
        // The data locally first (two scans of five slices, one per part); then on Slurm the split (cheap) runs
        // here and only `count` is submitted.
        let local = try MasknetProcess.run(["run", pipeline.path, "--store", store, "--stage", "data"], in: workspace)
        XCTAssertEqual(local.status, 0, local.error)
        let before = RunFolder.all(in: store)
        let started = Date()
        let result = try MasknetProcess.run(["run", pipeline.path, "--store", store, "--executor", "slurm", "--local-cheap",
                                             "--profile", workspace.appendingPathComponent("profile.yaml").path], in: workspace, timeout: 120)
        XCTAssertEqual(result.status, 1, result.error)
        XCTAssertLessThan(Date().timeIntervalSince(started), 90, "failed at once, not after waiting for a job that never starts")
        let run = try RunFolder.new(in: store, before: before)
        let statuses = try run.statuses()
        XCTAssertEqual(statuses["data"], "cached")
        XCTAssertEqual(statuses["split"], "computed", "the cheap stage ran locally")
        XCTAssertEqual(statuses["count"], "failed")
        let reason = try run.reasons()["count"] ?? ""
        XCTAssertTrue(reason.contains("PartitionTimeLimit"), reason)
        XCTAssertTrue(reason.contains("MaxTime=00:02:00"), reason)
        XCTAssertTrue(reason.contains("limited"), reason)
        let jobs = try run.accounting()["jobs"] as? [[String: Any]] ?? []
        XCTAssertEqual(jobs.compactMap { $0["stage"] as? String }, ["count"], "only the non-cheap stage was submitted")
        // Nothing of the run is left waiting in the queue.
        let left = try client.allJobs().filter { $0.name.contains(name) && !$0.state.isTerminal }
        XCTAssertEqual(left, [])
    }

    func testAJobAskingMoreCPUsThanAnyNodeHasFailsNamingItsRequest() throws {
        try """
            poll: {initial_seconds: 0.2, max_seconds: 1, growth: 1.5}
            lost_job_grace_seconds: 2
            """.write(to: workspace.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
        let pipeline = workspace.appendingPathComponent("cpus.yaml")
        try """
            pipeline: slurm-cpus-\(UUID().uuidString.prefix(6).lowercased())
            stages:
              wide:
                kind: command
                resources: {cpus: 64, mem: 100M, time: 5}
                params: {run: 'echo x > x.txt', outputs: [x.txt]}
            """.write(to: pipeline, atomically: true, encoding: .utf8)
        let store = workspace.appendingPathComponent("store").path
        let result = try MasknetProcess.run(["run", pipeline.path, "--store", store, "--executor", "slurm",
                                             "--profile", workspace.appendingPathComponent("profile.yaml").path], in: workspace, timeout: 120)
        XCTAssertEqual(result.status, 1, result.error)
        let reason = try RunFolder.latest(in: store).reasons()["wide"] ?? ""
        // Either sbatch refuses it at once (a site limit named), or Slurm holds it for PartitionConfig and we give up.
        XCTAssertTrue(reason.contains("cpu=64") || reason.contains("Requested node configuration is not available")
                      || reason.contains("More processors requested than permitted"), reason)
    }
}
