import Foundation
import TestSupport
import XCTest
@testable import PipelineEngine

/// Counts executions per stage name across threads.
final class ExecutionCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func hit(_ s: String) { lock.lock(); counts[s, default: 0] += 1; lock.unlock() }
    func count(_ s: String) -> Int { lock.lock(); defer { lock.unlock() }; return counts[s, default: 0] }
    var total: Int { lock.lock(); defer { lock.unlock() }; return counts.values.reduce(0, +) }
}

/// A small non-ML kind for tests: appends a line describing its parameters to its input.
struct ScaleKind: StageKind {
    var version: String = "1"
    var counter: ExecutionCounter
    var name: String { "scale" }
    var summary: String { "Test kind: appends factor × steps to its input." }
    var parameters: [ParameterSpec] {
        [
            ParameterSpec("factor", .number, default: 1.0, minimum: 0, maximum: 10, description: "Multiplier."),
            ParameterSpec("steps", .integer, minimum: 1, description: "Number of steps."),
            ParameterSpec("verbose", .boolean, default: false, description: "Log more."),
            ParameterSpec("mode", .choice(["fast", "slow"]), default: "fast", description: "Speed."),
        ]
    }
    var inputSlots: [InputSlot] { [InputSlot("source", description: "A text file.", optional: true)] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["out"] }
    var determinism: Determinism { .seeded }
    var reportedMetrics: [String] { ["value"] }
    func execute(_ context: StageContext) throws -> StageResult {
        counter.hit(context.stageName)
        var text = ""
        if var s = context.input("source") {
            // A whole-stage reference arrives as a directory with one entry per output.
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: s.path, isDirectory: &isDir), isDir.boolValue { s = s.appendingPathComponent("out") }
            text = try String(contentsOf: s, encoding: .utf8)
        }
        let f = context.parameters.double("factor"), n = context.parameters.int("steps")
        text += "\(context.stageName) factor=\(f) steps=\(n) mode=\(context.parameters.string("mode")) seed=\(context.seed)\n"
        try text.write(to: context.outputURL("out"), atomically: false, encoding: .utf8)
        context.report(StageProgress(step: n, steps: n, loss: 1.0 / Double(n), fraction: 1))
        return StageResult(metrics: ["value": f * Double(n)])
    }
}

/// A temporary workspace with a store, the `command` kind and the test kind `scale` (whose executions it counts).
final class Workspace: PipelineWorkspace {
    let counter: ExecutionCounter

    init() throws {
        let counter = ExecutionCounter()
        self.counter = counter
        try super.init(kinds: [CommandStageKind(), ScaleKind(counter: counter)])
    }
}

/// A four-stage chain of `scale` stages (one input referencing a whole stage), shared by the cache and
/// execution tests.
let chainPipeline = """
pipeline: chain
seed: 3
stages:
  a: {kind: scale, params: {steps: 1}}
  b: {kind: scale, params: {steps: 2}, inputs: {source: a.out}}
  c: {kind: scale, params: {steps: 3}, inputs: {source: b.out}}
  d: {kind: scale, params: {steps: 4}, inputs: {source: a}}
"""

/// The repository root (Tests/PipelineEngineTests/ is two levels below).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
