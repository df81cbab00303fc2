import Foundation
import PipelineEngine
import XCTest

/// A folder with a store and a kind registry: writes pipeline files, validates them and runs them. Tests of
/// the engine, the stage kinds and the reports share it instead of repeating the setup.
open class PipelineWorkspace {
    /// The workspace folder (pipeline files, `store/`).
    public let root: URL
    /// The kinds pipelines may use.
    open var kinds: [any StageKind]
    private let temporary: TemporaryDirectory?

    /// A workspace in a fresh temporary folder, removed with the workspace.
    public init(kinds: [any StageKind]) throws {
        let temporary = try TemporaryDirectory()
        self.temporary = temporary
        root = temporary.url
        self.kinds = kinds
    }

    /// A workspace in `root` (created if missing, kept afterwards: for runs a CI job keeps as artifacts).
    public init(kinds: [any StageKind], root: URL) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        temporary = nil
        self.root = root
        self.kinds = kinds
    }

    /// `root/store`.
    public var storeURL: URL { root.appendingPathComponent("store") }
    /// The registry of `kinds`.
    public var registry: KindRegistry { KindRegistry(kinds) }
    /// Opens (or creates) the store.
    public func store() throws -> ArtifactStore { try ArtifactStore(root: storeURL) }

    /// Writes `text` to `root/name`.
    public func write(_ text: String, name: String = "p.yaml") throws -> URL {
        let url = root.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Parses and validates a pipeline text.
    public func graph(_ text: String, name: String = "p.yaml", overrides: [String] = []) throws -> PipelineGraph {
        let definition = try PipelineParser(registry: registry).parse(file: try write(text, name: name), overrides: overrides)
        return try PipelineGraph(definition, registry: registry)
    }

    /// Runs a pipeline text; returns the record and every event.
    @discardableResult
    public func run(_ text: String, name: String = "p.yaml", overrides: [String] = [],
                    options: RunOptions = RunOptions()) throws -> (RunRecord, [RunEvent]) {
        let graph = try graph(text, name: name, overrides: overrides)
        let events = EventLog()
        let record = try PipelineRunner(store: try store()).run(graph, options: options, events: { events.add($0) })
        return (record, events.all)
    }

    /// Validation diagnostics of a text (fails the test if it validates).
    public func diagnostics(_ text: String, overrides: [String] = [], file: StaticString = #filePath,
                            line: UInt = #line) -> [Diagnostic] {
        do {
            _ = try graph(text, overrides: overrides)
            XCTFail("expected validation errors", file: file, line: line)
            return []
        } catch let error as PipelineValidationError {
            return error.diagnostics
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }
}

/// Collects run events from the runner's threads.
public final class EventLog: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var events: [RunEvent] = []

    public init() {}

    /// Appends one event.
    public func add(_ event: RunEvent) { lock.lock(); events.append(event); lock.unlock() }
    /// Every event so far, in arrival order.
    public var all: [RunEvent] { lock.lock(); defer { lock.unlock() }; return events }
}

extension RunRecord {
    /// The record of stage `name`.
    public func stage(_ name: String) -> StageRunRecord? { stages.first { $0.name == name } }
    /// Stages computed in this run.
    public var computed: Set<String> { Set(stages.filter { $0.status == .computed }.map(\.name)) }
    /// Stages served from the cache.
    public var cachedStages: Set<String> { Set(stages.filter { $0.status == .cached }.map(\.name)) }
}
