import Benchmarks
import Foundation
import XCTest

/// A benchmark side run as a child process: its output decoded, and a failing side named with the setting it
/// ran under, whatever the setting is.
final class BenchmarkProcessTests: XCTestCase {
    struct Result: Codable, Equatable { var gflops: [Double] }

    func testAChildsJSONIsDecodedOrReadAsAnObject() throws {
        let side = BenchmarkProcess("/bin/sh", ["-c", "echo '{\"gflops\": [1.5, 2]}'"])
        XCTAssertEqual(try side.decoded(Result.self), Result(gflops: [1.5, 2]))
        XCTAssertEqual(try side.jsonObject()["gflops"] as? [Double], [1.5, 2])
    }

    func testAFailingSideIsNamedWithItsSettingAndExitStatus() {
        let side = BenchmarkProcess("/bin/sh", ["-c", "exit 3"], environment: ["PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"],
                                    setting: "OMP_NUM_THREADS=1")
        XCTAssertThrowsError(try side.output()) { error in
            XCTAssertEqual("\(error)", "/bin/sh -c exit 3 (OMP_NUM_THREADS=1) exited with 3")
        }
        XCTAssertThrowsError(try BenchmarkProcess("/bin/sh", ["-c", "exit 4"]).output()) { error in
            XCTAssertEqual("\(error)", "/bin/sh -c exit 4 exited with 4", "no setting named when none was given")
        }
    }

    func testOutputThatIsNotTheResultSaysSo() {
        let side = BenchmarkProcess("/bin/sh", ["-c", "echo warming up"])
        XCTAssertThrowsError(try side.decoded(Result.self)) { error in
            XCTAssertTrue("\(error)".hasPrefix("/bin/sh -c echo warming up printed no Result result"), "\(error)")
        }
        XCTAssertThrowsError(try side.jsonObject()) { error in
            XCTAssertEqual("\(error)", "/bin/sh -c echo warming up printed no JSON object")
        }
        XCTAssertThrowsError(try BenchmarkProcess("/no/such/python", ["x.py"]).output()) { error in
            XCTAssertTrue("\(error)".hasPrefix("/no/such/python x.py did not start"), "\(error)")
        }
    }
}

/// The comparison table: aligned columns, the ratio masknet ÷ reference, values in their unit.
final class ComparisonTableTests: XCTestCase {
    /// Values and headers end in the same column.
    func testRowsAlignAndTheRatioIsOursOverTheReference() {
        let table = ComparisonTable(rows: [
            .init("forward", ours: 0.25, reference: 0.5, unit: .seconds),
            .init("forward+backward", ours: 1.5, reference: 1.0, unit: .seconds),
            .init("peak memory", ours: 812.4, reference: 1024, unit: .mebibytes),
        ])
        XCTAssertEqual(table.lines, [
            "  pass              masknet      pytorch      ratio",
            "  forward             0.250 s      0.500 s     0.50",
            "  forward+backward    1.500 s      1.000 s     1.50",
            "  peak memory           812 MiB     1024 MiB   0.79",
        ])
        XCTAssertEqual(Set(table.lines.map(\.count)).count, 1, "every line has the header's width")
    }
}
