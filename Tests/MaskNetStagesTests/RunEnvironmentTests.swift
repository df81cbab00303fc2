import Foundation
import MaskNetStages
import PipelineEngine
import XCTest

/// The environment a run records and the version line of `masknet --version`.
final class RunEnvironmentTests: XCTestCase {
    func testRecordNamesTheMachineTheBLASAndTheSetVariables() {
        let record = RunEnvironment.record(arguments: ["masknet", "run", "p.yaml"],
                                           environment: ["OPENBLAS_NUM_THREADS": "1", "HOME": "/root"],
                                           cpuInfo: "processor\t: 0\nmodel name\t: AMD EPYC 7B13 64-Core Processor\nflags\t: avx2\n")
        XCTAssertEqual(record["masknet_version"], RunEnvironment.version)
        XCTAssertEqual(record["command"], "masknet run p.yaml")
        XCTAssertEqual(record["cpu"], "AMD EPYC 7B13 64-Core Processor")
        XCTAssertEqual(record["OPENBLAS_NUM_THREADS"], "1")
        XCTAssertNil(record["HOME"], "only the variables that change numerics or speed")
        XCTAssertEqual(record["host"], localHostName())
        for key in ["os", "cpu_count", "physical_memory_bytes", "blas", "blas_kernels", "cpu_features", "blas_threads", "worker_threads"] {
            XCTAssertNotNil(record[key], key)
        }
    }

    func testCPUModelNeedsAModelNameLine() {
        XCTAssertNil(RunEnvironment.cpuModel(fromCPUInfo: "processor\t: 0\n"))
        XCTAssertNil(RunEnvironment.cpuModel(fromCPUInfo: "model name\t:   \n"))
        XCTAssertEqual(RunEnvironment.cpuModel(fromCPUInfo: "model name: X\nmodel name: Y\n"), "X")
    }

    func testVersionLineCarriesTheExecutablesHashPrefix() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-version-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("abc".utf8).write(to: file)
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        XCTAssertEqual(RunEnvironment.versionLine(executable: file), "\(RunEnvironment.version) (build ba7816bf8f01)")
        XCTAssertEqual(RunEnvironment.versionLine(executable: file.appendingPathExtension("missing")),
                       "\(RunEnvironment.version) (build unknown)")
    }
}
