import Foundation
import MaskNetStages
import PipelineEngine
import TestSupport
import XCTest

/// `split_dataset` keeps scans and patients whole, so a small data set can leave a part empty; the stage
/// then fails naming the part instead of letting an evaluation over nothing report nothing.
final class SplitStageTests: XCTestCase {
    func testASplitThatWouldLeaveAPartEmptyFailsNamingIt() throws {
        let workspace = try PipelineWorkspace(kinds: KindRegistry.builtIn + MaskNetStageKinds.all)
        // 32 classification slices of 64² come from a handful of patients per class (measured with this seed
        // and these names: every patient went to train).
        let (record, _) = try workspace.run("""
            pipeline: empty-part
            seed: 7
            stages:
              data: {kind: synthesize_dataset, params: {count: 32, size: 64, layout: both}}
              classification_split:
                kind: split_dataset
                inputs: {dataset: data.dataset}
                params: {layout: classification, parts: [train, test], fractions: [0.75, 0.25]}
            """)
        let split = try XCTUnwrap(record.stage("classification_split"))
        XCTAssertEqual(record.stage("data")?.status, .computed)
        XCTAssertEqual(split.status, .failed)
        let reason = split.reason ?? ""
        XCTAssertTrue(reason.contains("part test would be empty") && reason.contains("patients")
                      && reason.contains("change the fractions"), reason)
    }
}
