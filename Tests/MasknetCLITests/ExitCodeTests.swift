import Foundation
import PipelineEngine
import TestSupport
import XCTest

/// The built `masknet` binary, run as a user runs it: exit codes (0 pass, 1 a stage or the environment
/// failed, 2 invalid pipeline, 3 a gate failed, 64 a usage error) and where messages go.
final class ExitCodeTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The release binary (`swift build -c release` before `swift test`, as Tools/test.sh does).
    static let masknet = packageRoot.appendingPathComponent(".build/release/masknet")

    var folder: TemporaryDirectory!
    var root: URL { folder.url }

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.masknet.path) else {
            throw XCTSkip("\(Self.masknet.path) is missing: run `swift build -c release` before these tests")
        }
        folder = try TemporaryDirectory("masknet-cli")
    }

    override func tearDown() { folder = nil }

    /// Runs masknet with `arguments` in `root`; returns the exit status, stdout and stderr.
    func masknet(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = Self.masknet
        process.arguments = arguments
        process.currentDirectoryURL = root
        var environment = ProcessInfo.processInfo.environment
        environment["MASKNET_STORE"] = root.appendingPathComponent("store").path
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func pipeline(_ text: String) throws -> String {
        let file = root.appendingPathComponent("p.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func testVersionPrintsTheVersionAndTheBinarysHash() throws {
        let (status, out, _) = try masknet(["--version"])
        XCTAssertEqual(status, 0)
        let digest = try ArtifactStore.hashFile(Self.masknet).digest
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0 (build \(digest.prefix(12)))")
    }

    func testPassingRunExitsZero() throws {
        let file = try pipeline("""
        pipeline: ok
        stages:
          a: {kind: command, params: {run: "echo value 1 > $MASKNET_METRICS"}, expect: {value: {min: 1}}}
        """)
        let (status, _, err) = try masknet(["run", file, "--quiet"])
        XCTAssertEqual(status, 0, err)
    }

    func testFailedStageExitsOne() throws {
        let file = try pipeline("""
        pipeline: fails
        stages:
          a: {kind: command, params: {run: "exit 7"}}
        """)
        let (status, _, err) = try masknet(["run", file, "--quiet"])
        XCTAssertEqual(status, 1, err)
    }

    func testInvalidPipelineExitsTwoWithDiagnosticsAndNoUsage() throws {
        let file = try pipeline("""
        pipeline: invalid
        stages:
          a: {kind: no_such_kind}
        """)
        let (status, _, err) = try masknet(["run", file])
        XCTAssertEqual(status, 2, err)
        XCTAssertTrue(err.contains("no_such_kind"), err)
        XCTAssertFalse(err.contains("USAGE"), "a pipeline error is not a usage error: \(err)")
    }

    func testFailedGateExitsThree() throws {
        let file = try pipeline("""
        pipeline: gate
        stages:
          a: {kind: command, params: {run: "echo value 1 > $MASKNET_METRICS"}, expect: {value: {min: 2}}}
        """)
        let (status, _, err) = try masknet(["run", file, "--quiet"])
        XCTAssertEqual(status, 3, err)
    }

    func testRuntimeErrorExitsOneWithoutUsage() throws {
        // A run that does not exist is the environment's problem, not a usage error: exit 1, the message,
        // and no usage text.
        let (status, _, err) = try masknet(["report", "no-such-run"])
        XCTAssertEqual(status, 1, err)
        XCTAssertTrue(err.contains("no-such-run"), err)
        XCTAssertFalse(err.contains("USAGE"), err)
    }

    func testUnknownOptionIsAUsageError() throws {
        let (status, _, err) = try masknet(["run", "--no-such-option"])
        XCTAssertEqual(status, 64, err)
        XCTAssertTrue(err.contains("Usage") || err.contains("USAGE"), err)
    }

    /// The PyTorch reference scripts are found next to the binary's checkout or by `--reference-scripts`,
    /// never by a compile-time source path: a binary copied elsewhere says where it looked and what to pass,
    /// and a runtime failure is exit 1 without the usage text.
    func testBenchmarkReferenceScriptsAreFoundNextToTheBinaryOrGiven() throws {
        let copy = root.appendingPathComponent("bin/masknet")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.masknet, to: copy)
        func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, err: String) {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            process.currentDirectoryURL = root
            let err = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = err
            try process.run()
            let data = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let elsewhere = try run(copy, ["bench", "roi", "--runs", "1", "--threads", "1", "--python", "/bin/true"])
        XCTAssertEqual(elsewhere.status, 1, elsewhere.err)
        XCTAssertTrue(elsewhere.err.contains("not next to this masknet binary") && elsewhere.err.contains("--reference-scripts"), elsewhere.err)
        XCTAssertFalse(elsewhere.err.contains("USAGE"), "a runtime failure, not a usage error: \(elsewhere.err)")
        let missing = try run(copy, ["bench", "roi", "--runs", "1", "--threads", "1", "--python", "/bin/true",
                                     "--reference-scripts", root.appendingPathComponent("nowhere").path])
        XCTAssertEqual(missing.status, 1, missing.err)
        XCTAssertTrue(missing.err.contains("nowhere: no such folder"), missing.err)
        // The checkout's own binary finds Tools/bench_roi_torch.py; /bin/true prints no JSON, which is reported.
        let found = try run(Self.masknet, ["bench", "roi", "--runs", "1", "--threads", "1", "--python", "/bin/true"])
        XCTAssertEqual(found.status, 1, found.err)
        XCTAssertTrue(found.err.contains("bench_roi_torch.py --runs 1 --threads 1 printed no JSON object"), found.err)
    }
}
