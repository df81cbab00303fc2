import Foundation
import MaskNetStages
import PipelineEngine
import TestSupport
import XCTest

/// The `process` executor: every stage as a `masknet stage exec` child, as a batch job would run it.
final class ProcessExecutorTests: XCTestCase {
    /// The masknet executable built beside the tests (`swift build` before `swift test`).
    static var masknet: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/release/masknet")
    }

    var folder: TemporaryDirectory!
    var root: URL { folder.url }

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.masknet.path) else {
            XCTFail("\(Self.masknet.path) is missing: run `swift build -c release` before these tests"); return
        }
        folder = try TemporaryDirectory("masknet-process")  // removed with its read-only store objects
    }

    override func tearDown() { folder = nil }

    func run(_ file: URL, stages: [String] = [], store: String, executor: any Executor, keepGoing: Bool = false) throws -> RunRecord {
        let registry = MaskNetStageKinds.registry
        let graph = try PipelineGraph(try PipelineParser(registry: registry).parse(file: file), registry: registry)
        var options = RunOptions()
        options.stages = stages
        options.executor = executor
        options.keepGoing = keepGoing
        return try PipelineRunner(store: try ArtifactStore(root: root.appendingPathComponent(store))).run(graph, options: options, events: { _ in })
    }

    /// The quickstart's data stages under `process` give the same keys and outputs as under `local`.
    func testProcessExecutorMatchesLocalOnTheQuickstartDataStages() throws {
        let quickstart = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Pipelines/quickstart.yaml")
        let stages = ["segmentation_split", "classification_split"]
        let local = try run(quickstart, stages: stages, store: "local", executor: LocalExecutor())
        let process = try run(quickstart, stages: stages, store: "process", executor: ProcessExecutor(executable: Self.masknet))
        XCTAssertEqual(local.status, .succeeded)
        XCTAssertEqual(process.status, .succeeded, "\(process.stages.map { "\($0.name): \($0.status) \($0.reason ?? "")" })")
        XCTAssertEqual(process.executor, "process")
        XCTAssertEqual(process.stages.map(\.name), ["data", "segmentation_split", "classification_split"])
        for (l, p) in zip(local.stages, process.stages) {
            XCTAssertEqual(p.status, .computed)
            XCTAssertEqual(l.key, p.key, l.name)
            XCTAssertEqual(l.outputs, p.outputs, l.name)
            XCTAssertEqual(l.metrics, p.metrics, l.name)
        }
        // Each child left a status file saying so.
        let status = try XCTUnwrap(try StageExecStatus.read(root.appendingPathComponent("process/runs/\(process.id)/status/data.json")))
        XCTAssertEqual(status.outcome, .computed)
        XCTAssertEqual(status.key, process.stages[0].key)
        XCTAssertNotEqual(status.pid, getpid())
    }

    /// A stage whose process is killed with SIGKILL fails alone; the next run computes only it.
    func testAStageKilledWithSIGKILLFailsAloneAndTheNextRunResumes() throws {
        let marker = root.appendingPathComponent("kill-next-time")
        try Data().write(to: marker)
        // `$PPID` of the stage's shell is its `masknet stage exec` process.
        let text = """
        pipeline: crash
        stages:
          first: {kind: command, params: {run: "echo 1 > out", outputs: [out]}}
          victim:
            kind: command
            inputs: {x: first.out}
            params: {run: "if [ -e '\(marker.path)' ]; then kill -KILL $PPID; sleep 5; fi; cat $IN_x > out", outputs: [out]}
          after: {kind: command, inputs: {x: victim.out}, params: {run: "cat $IN_x > out", outputs: [out]}}
          independent: {kind: command, inputs: {x: first.out}, params: {run: "sleep 1; cat $IN_x > out", outputs: [out]}}
        """
        let file = root.appendingPathComponent("crash.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let executor = ProcessExecutor(executable: Self.masknet)
        let r1 = try run(file, store: "s", executor: executor, keepGoing: true)
        XCTAssertEqual(r1.status, .failed)
        XCTAssertEqual(r1.stage("victim")?.status, .failed)
        XCTAssertTrue(r1.stage("victim")?.reason?.contains("SIGKILL") ?? false, r1.stage("victim")?.reason ?? "")
        XCTAssertEqual(r1.stage("after")?.status, .skipped)
        XCTAssertEqual(r1.stage("first")?.status, .computed)
        XCTAssertEqual(r1.stage("independent")?.status, .computed)
        try FileManager.default.removeItem(at: marker)
        let r2 = try run(file, store: "s", executor: executor)
        XCTAssertEqual(r2.status, .succeeded)
        XCTAssertEqual(Set(r2.stages.filter { $0.status == .computed }.map(\.name)), ["victim", "after"])
        XCTAssertEqual(Set(r2.stages.filter { $0.status == .cached }.map(\.name)), ["first", "independent"])
    }
}

extension RunRecord {
    func stage(_ name: String) -> StageRunRecord? { stages.first { $0.name == name } }
}
