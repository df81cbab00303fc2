import Foundation
import TestSupport
import XCTest
@testable import PipelineEngine

/// Every file under a directory with its size and SHA-256 (what "the store is untouched" compares).
func treeSnapshot(_ root: URL, excluding excluded: Set<String> = []) throws -> [String: String] {
    var out: [String: String] = [:]
    guard let e = FileManager.default.enumerator(atPath: root.path) else { return out }
    for case let rel as String in e {
        if excluded.contains(where: { rel == $0 || rel.hasPrefix($0 + "/") }) { continue }
        let url = root.appendingPathComponent(rel)
        var isDir: ObjCBool = false
        FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
        out[rel] = isDir.boolValue ? "dir" : (try ArtifactStore.hashFile(url)).digest
    }
    return out
}

final class StageCacheTests: XCTestCase {
    let chain = chainPipeline

    /// `plan`, `why` and `status`'s lock listing write nothing: the store's file tree is byte-identical
    /// before and after, also when `file:` inputs are new and stages would run (plan used to store
    /// specs and copy inputs into the object store).
    func testPlanWhyAndStatusLeaveTheStoreUntouched() throws {
        let ws = try Workspace()
        try ws.run(chain)
        let data = ws.root.appendingPathComponent("data.txt")
        try "some data\n".write(to: data, atomically: true, encoding: .utf8)
        let text = chain + "\n  e: {kind: command, inputs: {d: 'file:\(data.path)'}, params: {run: 'cp $IN_d out', outputs: [out]}}\n"
        let store = try ws.store()
        let before = try treeSnapshot(store.root)
        let graph = try ws.graph(text, overrides: ["c.steps=5"])
        let plan = try Planner(store: store).plan(graph)
        XCTAssertEqual(plan.map(\.willRun), [false, false, true, false, true])
        _ = try Planner(store: store).why(graph, stage: "c")
        _ = try Planner(store: store).why(graph, stage: "e")
        _ = store.heldLocks()
        _ = store.runs()
        // The file's digest may be learnt by the state table (a cache of hashes, never a result): it is
        // the only thing allowed to change, and only when a file was hashed for the first time.
        XCTAssertEqual(try treeSnapshot(store.root, excluding: ["state"]), before)
        let warm = try treeSnapshot(store.root)
        _ = try Planner(store: store).plan(graph)
        _ = try Planner(store: try ArtifactStore(root: store.root, creating: false)).why(graph, stage: "e")
        XCTAssertEqual(try treeSnapshot(store.root), warm)
        // A store that does not exist stays absent.
        let missing = ws.root.appendingPathComponent("no-store")
        _ = try Planner(store: try ArtifactStore(root: missing, creating: false)).plan(try ws.graph(chain))
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.path))
    }

    /// `run` gives, for every stage it executes, the reason `plan` gives; the run record keeps it.
    func testRunReasonsForEachKeyComponent() throws {
        let ws = try Workspace()
        let data = ws.root.appendingPathComponent("data.txt")
        try "one\n".write(to: data, atomically: true, encoding: .utf8)
        let text = chain + "\n  e: {kind: scale, inputs: {source: 'file:\(data.path)'}, params: {steps: 1}}\n"

        func check(_ expected: [String: [String]], overrides: [String] = [], force: [String] = [],
                   file: StaticString = #filePath, line: UInt = #line) throws {
            let plan = try Planner(store: try ws.store()).plan(try ws.graph(text, overrides: overrides), force: force)
            var o = RunOptions(); o.force = force
            let (r, events) = try ws.run(text, overrides: overrides, options: o)
            var started: [String: String] = [:]
            for e in events { if case .stageStarted(let s, _, let reason) = e { started[s] = reason } }
            let ran = Dictionary(uniqueKeysWithValues: r.stages.compactMap { s in s.runReasons.map { (s.name, $0) } })
            XCTAssertEqual(ran, expected, file: file, line: line)
            XCTAssertEqual(started, expected.mapValues { $0.joined(separator: "; ") }, file: file, line: line)
            // The same reasons as plan, for the stages plan could judge (upstream known).
            for p in plan where p.willRun && p.key != nil {
                XCTAssertEqual(p.reasons, expected[p.stage], "plan of \(p.stage)", file: file, line: line)
            }
        }
        try check(["a": ["new: never run in this pipeline"], "b": ["new: never run in this pipeline"],
                   "c": ["new: never run in this pipeline"], "d": ["new: never run in this pipeline"],
                   "e": ["new: never run in this pipeline"]])
        try check(["c": ["params changed: steps (3 → 5)"]], overrides: ["c.steps=5"])
        try check(["d": ["forced"]], overrides: ["c.steps=5"], force: ["d"])
        try "two\n".write(to: data, atomically: true, encoding: .utf8)
        try check(["e": ["input changed: source"]], overrides: ["c.steps=5"])
        // Seeds are derived per stage: the reason shows the derived values; downstream inputs change with them.
        let (seeded, _) = try ws.run(text, overrides: ["c.steps=5", "seed=9"])
        for name in ["a", "b", "c", "d", "e"] {
            let reasons = try XCTUnwrap(seeded.stage(name)?.runReasons, name)
            XCTAssertTrue(reasons.last?.hasPrefix("seed changed: ") ?? false, "\(name): \(reasons)")
        }
        XCTAssertEqual(seeded.stage("b")?.runReasons?.first, "input changed: source")
        // A damaged entry names the object.
        let store = try ws.store()
        let digest = try XCTUnwrap(store.runs().first?.stage("e")?.outputs["out"]?.digest)
        unlink(store.objectURL(digest).path)
        try check(["e": ["damaged entry: output 'out': object \(digest.prefix(12)) is missing"]], overrides: ["c.steps=5", "seed=9"])
        ws.kinds = [CommandStageKind(), ScaleKind(version: "2", counter: ws.counter)]
        let v2 = ["code version changed: 1 → 2"]
        try check(["a": v2, "b": v2, "c": v2, "d": v2, "e": v2], overrides: ["c.steps=5", "seed=9"])
        // Cache hits carry no run reasons; the record says why in `reason`.
        let (r, _) = try ws.run(text, overrides: ["c.steps=5", "seed=9"])
        XCTAssertTrue(r.stages.allSatisfy { $0.status == .cached && $0.runReasons == nil })
    }

    /// The state table answers for an unchanged file and never for a changed one.
    func testStateTableHitsAndATouchedFileIsRehashed() throws {
        let ws = try Workspace()
        let store = try ws.store()
        let file = ws.root.appendingPathComponent("slice.bin")
        try Data(repeating: 7, count: 100_000).write(to: file)
        // Files modified in the last two seconds are never recorded (timestamp granularity); age it.
        func age(_ url: URL, seconds: Int) {
            var times = [timeval(tv_sec: time(nil) - seconds, tv_usec: 0), timeval(tv_sec: time(nil) - seconds, tv_usec: 0)]
            utimes(url.path, &times)
        }
        age(file, seconds: 100)
        let first = try store.describe(itemAt: file)
        XCTAssertEqual(store.stateTable.statistics.misses, 1)
        let again = try ArtifactStore(root: store.root).describe(itemAt: file)  // A new process reads the table.
        XCTAssertEqual(again, first)
        let reopened = try ArtifactStore(root: store.root)
        _ = try reopened.describe(itemAt: file)
        XCTAssertEqual(reopened.stateTable.statistics.hits, 1)
        XCTAssertEqual(reopened.stateTable.statistics.misses, 0)
        // Same size, new content, and even the same age: the mtime differs in its nanoseconds, so it is rehashed.
        try Data(repeating: 8, count: 100_000).write(to: file)
        age(file, seconds: 50)
        let changed = try ArtifactStore(root: store.root)
        let after = try changed.describe(itemAt: file)
        XCTAssertEqual(changed.stateTable.statistics.misses, 1)
        XCTAssertNotEqual(after.digest, first.digest)
        XCTAssertEqual(after.digest, try ArtifactStore.hashFile(file).digest)
        // A fresh file is hashed every time until it is old enough to trust.
        let fresh = ws.root.appendingPathComponent("fresh.bin")
        try Data(repeating: 1, count: 10).write(to: fresh)
        _ = try changed.describe(itemAt: fresh)
        _ = try changed.describe(itemAt: fresh)
        XCTAssertEqual(changed.stateTable.statistics.misses, 3)
        // Importing a directory as a `file:` input uses the table for the files and their objects.
        let dir = ws.root.appendingPathComponent("slices")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for i in 0..<5 { let f = dir.appendingPathComponent("s\(i).bin"); try Data(repeating: UInt8(i), count: 1000).write(to: f); age(f, seconds: 100) }
        let s1 = try ArtifactStore(root: store.root)
        let tree = try s1.store(itemAt: dir, move: false)
        for digest in try s1.treeEntries(tree).map(\.digest) + [tree.digest] { age(s1.objectURL(digest), seconds: 100) }
        let s2 = try ArtifactStore(root: store.root)
        XCTAssertEqual(try s2.store(itemAt: dir, move: false), tree)
        XCTAssertEqual(s2.stateTable.statistics.hits, 5, "the files were not rehashed")
        let s3 = try ArtifactStore(root: store.root)
        XCTAssertEqual(try s3.store(itemAt: dir, move: false), tree)
        XCTAssertEqual(s3.stateTable.statistics.misses, 0, "neither the files nor their objects were rehashed")
    }

    /// `gc` drops state-table lines of deleted and changed files and keeps the rest answering.
    func testGarbageCollectionPrunesTheStateTable() throws {
        let ws = try Workspace()
        let store = try ws.store()
        var files: [URL] = []
        for i in 0..<3 {
            let file = ws.root.appendingPathComponent("slice\(i).bin")
            try Data(repeating: UInt8(i), count: 1000).write(to: file)
            var times = [timeval(tv_sec: time(nil) - 100, tv_usec: 0), timeval(tv_sec: time(nil) - 100, tv_usec: 0)]
            utimes(file.path, &times)
            _ = try store.stateTable.digest(of: file)
            files.append(file)
        }
        try FileManager.default.removeItem(at: files[0])
        try Data(repeating: 9, count: 10).write(to: files[1])
        let tableFile = store.root.appendingPathComponent("state/files.tsv")
        XCTAssertEqual(try String(contentsOf: tableFile, encoding: .utf8).split(separator: "\n").count, 3)
        var options = GCOptions()
        options.dryRun = true
        XCTAssertEqual(try ArtifactStore(root: store.root).collectGarbage(options).prunedStateEntries, 2)
        XCTAssertEqual(try String(contentsOf: tableFile, encoding: .utf8).split(separator: "\n").count, 3, "a dry run changes nothing")
        options.dryRun = false
        XCTAssertEqual(try ArtifactStore(root: store.root).collectGarbage(options).prunedStateEntries, 2)
        let lines = try String(contentsOf: tableFile, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].hasSuffix(files[2].standardizedFileURL.path))
        let reopened = try ArtifactStore(root: store.root)
        _ = try reopened.stateTable.digest(of: files[2])
        XCTAssertEqual(reopened.stateTable.statistics.hits, 1, "the surviving entry still answers")
    }
}
