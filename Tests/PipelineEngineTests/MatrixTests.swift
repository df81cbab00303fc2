import Foundation
import TestSupport
import XCTest
@testable import PipelineEngine

/// Irregular sweeps: `include:` and `exclude:` under a stage's `matrix:`, their cell names and diagnostics.
final class MatrixTests: XCTestCase {
    /// A 2 × 2 product minus one cell plus one extra cell, with a downstream stage that follows cell by cell.
    let irregular = """
    pipeline: t
    stages:
      data: {kind: scale, params: {steps: 1}}
      train:
        kind: scale
        inputs: {source: data.out}
        matrix:
          steps: [1, 2]
          factor: [0.5, 3]
          exclude: [{steps: 2, factor: 3}]
          include: [{steps: 4, factor: 9}]
      eval:
        kind: scale
        inputs: {source: train.out}
        params: {steps: 1}
    """

    func testIncludeAndExcludeCellsFollowDownstream() throws {
        let ws = try Workspace()
        let g = try ws.graph(irregular)
        let trains = g.stages.filter { $0.baseName == "train" }.map(\.name)
        // Product order (axes by name, values as listed), then included cells.
        XCTAssertEqual(trains, ["train[factor=0.5,steps=1]", "train[factor=0.5,steps=2]", "train[factor=3.0,steps=1]", "train[factor=9.0,steps=4]"])
        let evals = g.stages.filter { $0.baseName == "eval" }.map(\.name)
        XCTAssertEqual(evals, trains.map { $0.replacingOccurrences(of: "train[", with: "eval[") }, "downstream has exactly the upstream's cells")
        XCTAssertEqual(g["eval[factor=9.0,steps=4]"]!.inputs["source"], .output(stage: "train[factor=9.0,steps=4]", output: "out"))
        XCTAssertEqual(g["train[factor=9.0,steps=4]"]!.parameters["steps"], .integer(4))
        XCTAssertEqual(g["train[factor=9.0,steps=4]"]!.parameters["factor"], .number(9))
        XCTAssertNil(g["train[factor=3.0,steps=2]"], "the excluded cell is gone")

        let (r, _) = try ws.run(irregular)
        XCTAssertEqual(r.computed.count, 9, "data + 4 train + 4 eval cells")
        XCTAssertEqual(ws.counter.count("train[factor=9.0,steps=4]"), 1)
    }

    func testCellNamesAndKeysDoNotDependOnHowTheCellIsListed() throws {
        // The same cell from a full product and from include: is the same stage, so the second run reuses it.
        let ws = try Workspace()
        let product = """
        pipeline: t
        stages:
          train: {kind: scale, matrix: {steps: [1, 2], factor: [0.5, 3]}}
        """
        let listed = """
        pipeline: t
        stages:
          train: {kind: scale, matrix: {include: [{steps: 2, factor: 3}, {factor: 0.5, steps: 1}]}}
        """
        let (r1, _) = try ws.run(product)
        XCTAssertEqual(r1.computed.count, 4)
        let g = try ws.graph(listed)
        XCTAssertEqual(g.stages.map(\.name), ["train[factor=3.0,steps=2]", "train[factor=0.5,steps=1]"])
        let (r2, _) = try ws.run(listed)
        XCTAssertEqual(r2.cachedStages, ["train[factor=0.5,steps=1]", "train[factor=3.0,steps=2]"])
        XCTAssertEqual(r2.computed, [])
    }

    func testPartialExcludeDropsEveryMatchingCell() throws {
        let ws = try Workspace()
        let g = try ws.graph("""
        pipeline: t
        stages:
          train:
            kind: scale
            matrix: {steps: [1, 2, 3], mode: [fast, slow], exclude: [{steps: 2}, {steps: 3, mode: slow}]}
        """)
        XCTAssertEqual(g.stages.map(\.name), ["train[mode=fast,steps=1]", "train[mode=fast,steps=3]", "train[mode=slow,steps=1]"])
    }

    func testIrregularCellsCombineWithThePipelineMatrix() throws {
        let ws = try Workspace()
        let g = try ws.graph("""
        pipeline: t
        matrix: {mode: [fast, slow]}
        stages:
          train:
            kind: scale
            matrix: {steps: [1, 2], include: [{steps: 5}]}
        """)
        XCTAssertEqual(g.stages.map(\.name), ["train[mode=fast,steps=1]", "train[mode=fast,steps=2]", "train[mode=fast,steps=5]",
                                              "train[mode=slow,steps=1]", "train[mode=slow,steps=2]", "train[mode=slow,steps=5]"])
    }

    func testIncludeExcludeDiagnostics() throws {
        let ws = try Workspace()
        let d = ws.diagnostics("""
        pipeline: t
        matrix: {include: [{steps: 1}]}
        stages:
          a:
            kind: scale
            matrix:
              steps: [1, 2]
              factor: [0.5]
              include: [{steps: 3, factr: 1}, {steps: 4}, {steps: 1, factor: 0.5}, {steps: 5, factor: 2}, {steps: 5, factor: 2}]
              exclude: [{steps: 7}, {mode: fast}]
          b:
            kind: scale
            matrix: {steps: [1], exclude: [{steps: 1}]}
          c:
            kind: scale
            params: {steps: 1}
            matrix: {include: {steps: 2}, exclude: [{factor: eleven}]}
          d:
            kind: scale
            matrix: {steps: [1, 2], factor: [1, 2], exclude: [{steps: 2}, {steps: 2, factor: 1}]}
        """).map(\.description)
        XCTAssertEqual(d.count, 11, d.joined(separator: "\n"))
        let expected = [
            "p.yaml:2:10: error: matrix.include: 'include:' belongs in a stage's matrix:",
            "p.yaml:9:28: error: stages.a.matrix.include[0].factr: 'factr' is not an axis of this matrix (axes: factor, steps); did you mean 'factor'?",
            "p.yaml:9:39: error: stages.a.matrix.include[1]: the cell gives no value for 'factor'; an included cell names every axis (factor, steps)",
            "p.yaml:9:51: error: stages.a.matrix.include[2]: {factor: 0.5, steps: 1} is already a cell of the matrix; include: adds cells the axes do not produce",
            "p.yaml:9:99: error: stages.a.matrix.include[4]: {factor: 2.0, steps: 5} is included twice",
            "p.yaml:10:17: error: stages.a.matrix.exclude[0]: {steps: 7} matches no cell of the matrix (axes: factor, steps); remove it or fix its values",
            "p.yaml:10:30: error: stages.a.matrix.exclude[1].mode: 'mode' is not an axis of this matrix (axes: factor, steps)",
            "p.yaml:13:13: error: stages.b.matrix: the matrix has no cells left after exclude:; nothing would run",
            "p.yaml:17:23: error: stages.c.matrix.include: expected a non-empty list of cells like {backbone: resnet50, truncation: 0}, found a mapping",
            "p.yaml:17:46: error: stages.c.matrix.exclude[0].factor: 'factor' is not an axis of this matrix (axes: none)",
            "p.yaml:20:67: error: stages.d.matrix.exclude[1]: {factor: 1.0, steps: 2} only matches cells an earlier exclude: entry already drops",
        ]
        for e in expected { XCTAssertTrue(d.contains { $0.contains(e) }, "missing: \(e)\nin:\n\(d.joined(separator: "\n"))") }
    }

    func testCellValuesAreTypedLikeTheAxis() throws {
        let ws = try Workspace()
        let d = ws.diagnostics("""
        pipeline: t
        stages:
          a:
            kind: scale
            matrix: {steps: [1], factor: [1], include: [{steps: 0, factor: 1}, {steps: 2, factor: ten}]}
        """).map(\.description)
        XCTAssertTrue(d.contains { $0.contains("stages.a.matrix.include[0].steps: 0 is below the minimum 1") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("stages.a.matrix.include[1].factor: expected a number, found the string 'ten'") }, "\(d)")
    }

    func testCellsMayNameOneEntryOfAMapParameter() throws {
        let ws = try Workspace()
        let g = try ws.graph("""
        pipeline: t
        stages:
          train:
            kind: command
            params: {run: "echo $LR > out", outputs: [out], env: {LR: "0.1"}}
            matrix: {env.LR: ["0.1", "0.01"], include: [{env.LR: "0.5"}], exclude: [{env.LR: "0.01"}]}
        """)
        XCTAssertEqual(g.stages.map(\.name), ["train[env.LR=0.1]", "train[env.LR=0.5]"])
        XCTAssertEqual(g["train[env.LR=0.5]"]!.parameters["env"], .object(["LR": .string("0.5")]))
    }
}
