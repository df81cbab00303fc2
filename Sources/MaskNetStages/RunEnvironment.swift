import Foundation
import PipelineEngine
import TensorCore

/// What a run records about the machine and the tool (the `environment` of `run.json`), and the version
/// `masknet --version` prints.
public enum RunEnvironment {
    /// The tool version, recorded in every run and printed by `--version`. SwiftPM has no build-time hook
    /// for `git describe`, so the build is identified by the executable's SHA-256 instead (`build(of:)`).
    public static let version = "0.1.0"

    /// Environment variables that change numerics or speed, recorded when set.
    public static let recordedVariables = ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MASKNET_THREADS", "OPENBLAS_CORETYPE"]

    /// The record: version, OS, host, CPUs and memory, the command line, the GEMM path, the BLAS and its kernels, CPU
    /// features, thread counts, the CPU model (from `cpuInfo`, `/proc/cpuinfo`'s text) and the variables of
    /// `recordedVariables` that are set in `environment`.
    public static func record(arguments: [String] = CommandLine.arguments,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              cpuInfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> [String: String] {
        var record: [String: String] = [
            "masknet_version": version,
            "os": ProcessInfo.processInfo.operatingSystemVersionString,
            "host": localHostName(),
            "cpu_count": String(ProcessInfo.processInfo.activeProcessorCount),
            "physical_memory_bytes": String(ProcessInfo.processInfo.physicalMemory),
            "command": arguments.joined(separator: " "),
            "gemm": MatrixMultiply.backend.description,
            "gemm_machine_independent": String(MatrixMultiply.isMachineIndependent),
            "blas": "OpenBLAS",
            "blas_kernels": BLAS.kernelDescription,
            "cpu_features": CPUFeatures.current.summary,
            "blas_threads": String(BLAS.threadCount),
            "worker_threads": String(ThreadingConfiguration.workerCount),
        ]
        if let cpuInfo, let model = cpuModel(fromCPUInfo: cpuInfo) { record["cpu"] = model }
        for name in recordedVariables { if let value = environment[name] { record[name] = value } }
        return record
    }

    /// The first `model name` of a `/proc/cpuinfo` text.
    public static func cpuModel(fromCPUInfo text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let value = line.split(separator: ":", maxSplits: 1).dropFirst().first else { return nil }
        let model = value.trimmingCharacters(in: .whitespaces)
        return model.isEmpty ? nil : model
    }

    /// The running executable (what the `process` executor starts as `masknet stage exec`).
    public static func executable() -> URL {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return URL(fileURLWithPath: path) }
        #endif
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }

    /// `<version> (build <first 12 hex digits of the executable's SHA-256>)`; the build part says
    /// "unknown" when the executable cannot be read.
    public static func versionLine(executable: URL = executable()) -> String {
        let build = (try? ArtifactStore.hashFile(executable).digest).map { String($0.prefix(12)) } ?? "unknown"
        return "\(version) (build \(build))"
    }
}
