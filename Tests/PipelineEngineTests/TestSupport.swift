import Foundation
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

/// A temporary workspace with a store.
final class Workspace {
    let root: URL
    let counter = ExecutionCounter()
    var kinds: [any StageKind]

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        kinds = [CommandStageKind()]
        kinds.append(ScaleKind(counter: counter))
    }

    deinit { _removeTree(root) }

    var storeURL: URL { root.appendingPathComponent("store") }
    var registry: KindRegistry { KindRegistry(kinds) }
    func store() throws -> ArtifactStore { try ArtifactStore(root: storeURL) }

    func write(_ text: String, name: String = "p.yaml") throws -> URL {
        let url = root.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func graph(_ text: String, overrides: [String] = []) throws -> PipelineGraph {
        let def = try PipelineParser(registry: registry).parse(file: try write(text), overrides: overrides)
        return try PipelineGraph(def, registry: registry)
    }

    /// Runs and returns the record and all events.
    @discardableResult
    func run(_ text: String, overrides: [String] = [], options: RunOptions = RunOptions()) throws -> (RunRecord, [RunEvent]) {
        let g = try graph(text, overrides: overrides)
        let events = EventLog()
        let r = try PipelineRunner(store: try store()).run(g, options: options, events: { events.add($0) })
        return (r, events.all)
    }

    /// Validation diagnostics of a text (fails the test if it validates).
    func diagnostics(_ text: String, overrides: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> [Diagnostic] {
        do {
            _ = try graph(text, overrides: overrides)
            XCTFail("expected validation errors", file: file, line: line)
            return []
        } catch let e as PipelineValidationError {
            return e.diagnostics
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [RunEvent] = []
    func add(_ e: RunEvent) { lock.lock(); events.append(e); lock.unlock() }
    var all: [RunEvent] { lock.lock(); defer { lock.unlock() }; return events }
}

extension RunRecord {
    func stage(_ name: String) -> StageRunRecord? { stages.first { $0.name == name } }
    var computed: Set<String> { Set(stages.filter { $0.status == .computed }.map(\.name)) }
    var cachedStages: Set<String> { Set(stages.filter { $0.status == .cached }.map(\.name)) }
}

/// The repository root (Tests/PipelineEngineTests/ is two levels below).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
