import Foundation
import TestSupport
import XCTest
@testable import PipelineEngine

/// `masknet export` and the `outputs/` folder of a run: stored outputs as ordinary files.
final class OutputExportTests: XCTestCase {
    let text = """
    pipeline: x
    stages:
      gen:
        kind: command
        params:
          run: |
            mkdir -p "$OUT_dir_out/sub"
            echo tree > "$OUT_dir_out/sub/a.txt"
            echo top > "$OUT_dir_out/b.txt"
            echo model > weights
          outputs: [dir.out, weights]
    """

    func inode(_ url: URL) -> UInt64 { var st = stat(); lstat(url.path, &st); return UInt64(st.st_ino) }

    func testExportOfAFileAndOfATreeOutput() throws {
        let ws = try Workspace()
        let (r, _) = try ws.run(text)
        let store = try ws.store()
        let dest = ws.root.appendingPathComponent("export")

        // One file output: a hard link to the read-only object, same bytes.
        let (_, weights, single) = try OutputExport.select("gen.weights", in: r.stages)
        XCTAssertEqual(single, "weights")
        try OutputExport.export(weights, single: single, to: dest.appendingPathComponent("model.bin"), store: store)
        XCTAssertEqual(try String(contentsOf: dest.appendingPathComponent("model.bin"), encoding: .utf8), "model\n")
        XCTAssertEqual(inode(dest.appendingPathComponent("model.bin")), inode(store.objectURL(weights["weights"]!.digest)))

        // A tree output (its name has a dot, like stage cell names): a folder.
        let (_, tree, treeName) = try OutputExport.select("gen.dir.out", in: r.stages)
        XCTAssertEqual(treeName, "dir.out")
        try OutputExport.export(tree, single: treeName, to: dest.appendingPathComponent("tree"), store: store)
        XCTAssertEqual(try String(contentsOf: dest.appendingPathComponent("tree/sub/a.txt"), encoding: .utf8), "tree\n")
        XCTAssertEqual(try String(contentsOf: dest.appendingPathComponent("tree/b.txt"), encoding: .utf8), "top\n")

        // A whole stage: one entry per output.
        let (_, all, none) = try OutputExport.select("gen", in: r.stages)
        XCTAssertNil(none)
        try OutputExport.export(all, single: nil, to: dest.appendingPathComponent("gen"), store: store)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dest.appendingPathComponent("gen").path).sorted(), ["dir.out", "weights"])

        // Never overwrites; unknown names get a suggestion.
        XCTAssertThrowsError(try OutputExport.export(weights, single: single, to: dest.appendingPathComponent("model.bin"), store: store)) {
            XCTAssertTrue("\($0)".contains("already exists"), "\($0)")
        }
        XCTAssertThrowsError(try OutputExport.select("gen.weight", in: r.stages)) { XCTAssertTrue("\($0)".contains("its outputs: dir.out, weights"), "\($0)") }
        XCTAssertThrowsError(try OutputExport.select("gem", in: r.stages)) { XCTAssertTrue("\($0)".contains("gen"), "\($0)") }

        // A damaged object is refused rather than exported.
        let object = store.objectURL(weights["weights"]!.digest)
        chmod(object.path, 0o644)
        try "tampered".write(to: object, atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try OutputExport.export(weights, single: single, to: dest.appendingPathComponent("again.bin"), store: try ws.store())) {
            XCTAssertTrue("\($0)".contains("damaged"), "\($0)")
        }
    }

    /// Every run folder has `outputs/<stage>/<name>` (links, also for cache hits), and `export --pipeline`
    /// finds the current stored result.
    func testRunFolderOutputsAndExportFromAPipeline() throws {
        let ws = try Workspace()
        try ws.run(text)
        let (r, _) = try ws.run(text)
        XCTAssertEqual(r.cachedStages, ["gen"])
        let store = try ws.store()
        let outputs = store.runFolder(r.id).appendingPathComponent("outputs/gen")
        XCTAssertEqual(try String(contentsOf: outputs.appendingPathComponent("weights"), encoding: .utf8), "model\n")
        XCTAssertEqual(try String(contentsOf: outputs.appendingPathComponent("dir.out/sub/a.txt"), encoding: .utf8), "tree\n")
        XCTAssertEqual(inode(outputs.appendingPathComponent("weights")), inode(store.objectURL(r.stage("gen")!.outputs["weights"]!.digest)))

        let stages = try Planner(store: store).storedStages(try ws.graph(text))
        XCTAssertEqual(stages.first?.outputs, r.stage("gen")?.outputs)
        let changed = try Planner(store: store).storedStages(try ws.graph(text.replacingOccurrences(of: "echo model", with: "echo other")))
        XCTAssertThrowsError(try OutputExport.select("gen.weights", in: changed)) { XCTAssertTrue("\($0)".contains("no outputs"), "\($0)") }
    }
}
