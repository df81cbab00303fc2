import Foundation
import PipelineEngine
import XCTest
@testable import SlurmExecution

/// The per-key lease across drivers and nodes, against the real one-node Slurm: a lease naming a Slurm job
/// is waited on while the job runs and broken once it ended; two drivers (local + Slurm, two locals) on one
/// store never compute one key twice.
final class SlurmLeaseTests: XCTestCase {
    var workspace: URL!

    override func setUpWithError() throws {
        _ = try SlurmTestCluster.environment()
        workspace = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-slurm-lease-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try """
            poll: {initial_seconds: 0.2, max_seconds: 1, growth: 1.5}
            lost_job_grace_seconds: 2
            local_cheap: false
            resources:
              cheap: {mem: 200M, time: 10}
              evaluation: {mem: 200M, time: 10}
              training: {mem: 200M, time: 10}
            """.write(to: workspace.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        if let workspace { try? FileManager.default.removeItem(at: workspace) }
    }

    func testAStaleLeaseIsWaitedOnWhileItsSlurmJobRunsAndBrokenOnceItEnded() throws {
        let client = try SlurmTestCluster.client()
        SlurmClient.installLeaseLiveness(commandLine: client.commandLine)
        let job = try client.submit(script: "#!/bin/sh\nsleep 120\n", options: ["--job-name=\(SlurmTestCluster.uniqueName("lease"))", "--mem=10M",
                                                                             "--output=/dev/null", "--time=5"])
        defer { _ = try? client.commandLine.run("scancel", [job]) }
        try SlurmTestCluster.wait(seconds: 60, "the holder's job to run") { client.jobIsRunning(job) == true }
        // The holder: on another node (so its pid cannot be checked here), heartbeat stale for an hour.
        let url = workspace.appendingPathComponent("k.lock")
        try leaseData(host: "node-elsewhere", pid: 1, job: job, expires: Date().addingTimeInterval(-3600)).write(to: url)
        XCTAssertNil(try StageLock.tryAcquire(url), "Slurm says job \(job) runs: wait")
        XCTAssertTrue(StageLock.holder(of: url)?.contains("Slurm job \(job)") ?? false)
        _ = try client.commandLine.run("scancel", [job])
        try SlurmTestCluster.wait(seconds: 30, "the job to end") { client.jobIsRunning(job) == false }
        let lock = try XCTUnwrap(try StageLock.tryAcquire(url), "stale and its job ended: broken")
        lock.release()
        XCTAssertEqual(client.jobIsRunning("999999999"), false, "a job Slurm never had is not running")
    }

    /// A lease as another holder writes it (same JSON as StageLock's).
    func leaseData(host: String, pid: Int32, job: String?, expires: Date) throws -> Data {
        var o: [String: Any] = ["host": host, "pid": pid, "token": UUID().uuidString, "since": "2026-01-01T00:00:00Z",
                                "expires": expires.timeIntervalSince1970]
        if let job { o["job"] = job }
        return try JSONSerialization.data(withJSONObject: o)
    }

    /// A stage slow enough for the second driver to arrive while the first computes; every start is counted
    /// in a file outside the store.
    func pipeline(_ name: String, counter: URL) throws -> String {
        let url = workspace.appendingPathComponent("\(name).yaml")
        try """
            pipeline: \(name)
            stages:
              slow:
                kind: command
                params:
                  run: |
                    echo started >> "\(counter.path)"
                    sleep 4
                    echo done > out.txt
                  outputs: [out.txt]
            """.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testALocalRunAndASlurmRunOnOneStoreComputeTheKeyOnce() throws {
        let counter = workspace.appendingPathComponent("starts")
        let pipeline = try pipeline("lease-mixed-\(UUID().uuidString.prefix(6).lowercased())", counter: counter)
        let store = workspace.appendingPathComponent("store").path
        let slurm = try MasknetProcess.start(["run", pipeline, "--store", store, "--executor", "slurm", "--profile",
                                              workspace.appendingPathComponent("profile.yaml").path], in: workspace)
        try SlurmTestCluster.wait(seconds: 60, "the Slurm job to start the stage") { FileManager.default.fileExists(atPath: counter.path) }
        let local = try MasknetProcess.run(["run", pipeline, "--store", store], in: workspace, timeout: 60)
        let remote = slurm.wait(timeout: 60)
        XCTAssertEqual(local.status, 0, local.error)
        XCTAssertEqual(remote.status, 0, remote.error)
        XCTAssertTrue(local.output.contains("waits for the same key") || local.error.contains("waits for the same key"),
                      "the local run waited for the Slurm job's lease: \(local.output)\(local.error)")
        XCTAssertTrue((local.output + local.error).contains("Slurm job"), "the holder is named with its Slurm job: \(local.output)\(local.error)")
        XCTAssertEqual(try String(contentsOf: counter, encoding: .utf8), "started\n", "computed exactly once")
        // The Slurm run's record: the job ran for seconds, so sstat sampled its memory.
        let runs = RunFolder.all(in: store).map { RunFolder(url: URL(fileURLWithPath: store).appendingPathComponent("runs/\($0)")) }
        let placements = try runs.compactMap { try ($0.json("run.json")["stages"] as? [[String: Any]])?.first?["placement"] as? [String: Any] }
        XCTAssertEqual(placements.count, 1, "only the Slurm run has a placement")
        XCTAssertGreaterThan(placements.first?["maxRSSBytes"] as? Int ?? 0, 0, "\(placements)")
        XCTAssertGreaterThanOrEqual(placements.first?["elapsedSeconds"] as? Double ?? 0, 1)
    }

    func testTwoLocalRunsOnOneStoreComputeTheKeyOnce() throws {
        let counter = workspace.appendingPathComponent("starts")
        let pipeline = try pipeline("lease-local-\(UUID().uuidString.prefix(6).lowercased())", counter: counter)
        let store = workspace.appendingPathComponent("store").path
        let first = try MasknetProcess.start(["run", pipeline, "--store", store], in: workspace)
        try SlurmTestCluster.wait(seconds: 30, "the first run to start the stage") { FileManager.default.fileExists(atPath: counter.path) }
        let second = try MasknetProcess.run(["run", pipeline, "--store", store], in: workspace, timeout: 60)
        let firstResult = first.wait(timeout: 60)
        XCTAssertEqual(firstResult.status, 0, firstResult.error)
        XCTAssertEqual(second.status, 0, second.error)
        XCTAssertEqual(try String(contentsOf: counter, encoding: .utf8), "started\n", "computed exactly once")
        let statuses = try RunFolder.all(in: store).map { try RunFolder(url: URL(fileURLWithPath: store).appendingPathComponent("runs/\($0)")).statuses()["slow"] ?? "" }
        XCTAssertEqual(statuses.sorted(), ["cached", "computed"], "one run computed, the other took its result")
    }
}
