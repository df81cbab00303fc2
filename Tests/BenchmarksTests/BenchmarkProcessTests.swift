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
