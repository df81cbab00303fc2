import FuzzHarnesses
import Foundation
import XCTest

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Replays every committed seed corpus and regression input through its harness (what a fuzzing campaign
/// found, fixed and kept), so CI checks in seconds that none of them crashes or hangs again.
final class CorpusReplayTests: XCTestCase {
    private func inputs(_ folder: String, _ harness: FuzzHarness) throws -> [URL] {
        let directory = repositoryRoot.appendingPathComponent("Fuzz/\(folder)/\(harness.rawValue)")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    func testEveryHarnessHasASeedCorpus() throws {
        for harness in FuzzHarness.allCases {
            XCTAssertFalse(try inputs("Corpus", harness).isEmpty, "Fuzz/Corpus/\(harness.rawValue) is empty")
        }
    }

    func testCorporaAndRegressionsReplay() throws {
        for harness in FuzzHarness.allCases {
            for url in try inputs("Corpus", harness) + inputs("Regressions", harness) {
                let start = Date()
                harness.run(try Data(contentsOf: url))
                // Not a timing assertion on speed: a hang of this size is the bug being guarded against.
                XCTAssertLessThan(Date().timeIntervalSince(start), 10, "\(harness.rawValue): \(url.lastPathComponent) takes over 10 s")
            }
        }
    }
}
