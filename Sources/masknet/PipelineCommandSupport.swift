import ArgumentParser
import Foundation
import PipelineEngine
import TensorCore

/// Options shared by the pipeline commands.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Artifact store directory (default: $MASKNET_STORE, else Artifacts/).")
    var store: String?

    /// Opens the store (creating it unless `creating` is false: `plan`, `why` and `status` only read).
    func open(creating: Bool = true) throws -> ArtifactStore { try ArtifactStore(root: ArtifactStore.defaultRoot(store), creating: creating) }
}

/// Loads and validates a pipeline; validation errors exit with code 2 after printing every diagnostic.
func loadGraph(_ path: String, overrides: [String] = []) throws -> PipelineGraph {
    let registry = registeredStageKinds()
    do {
        let def = try PipelineParser(registry: registry).parse(file: URL(fileURLWithPath: path), overrides: overrides)
        return try PipelineGraph(def, registry: registry)
    } catch let e as PipelineValidationError {
        FileHandle.standardError.write(Data((e.description + "\n").utf8))
        throw ExitCode(RunExitCode.invalidPipeline)
    } catch let e as EngineError {
        throw ValidationError(e.message)
    }
}

/// The running `masknet` executable (what the `process` executor starts as `masknet stage exec`).
func currentExecutable() -> URL {
    #if os(Linux)
    if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return URL(fileURLWithPath: path) }
    #endif
    return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
}

/// Prints to stdout.
func emit(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }

/// The environment recorded with each run.
func runEnvironment() -> [String: String] {
    var env: [String: String] = [
        "masknet_version": masknetVersion,
        "os": ProcessInfo.processInfo.operatingSystemVersionString,
        "host": localHostName(),
        "cpu_count": String(ProcessInfo.processInfo.activeProcessorCount),
        "physical_memory_bytes": String(ProcessInfo.processInfo.physicalMemory),
        "command": CommandLine.arguments.joined(separator: " "),
        "gemm": MatrixMultiply.backend.description,
        "gemm_machine_independent": String(MatrixMultiply.isMachineIndependent),
        "blas": "OpenBLAS",
        "blas_kernels": BLAS.kernelDescription,
        "cpu_features": CPUFeatures.current.summary,
        "blas_threads": String(BLAS.threadCount),
        "worker_threads": String(ThreadingConfiguration.workerCount),
    ]
    #if os(Linux)
    if let cpu = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = cpu.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
        env["cpu"] = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
    }
    #endif
    for k in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MASKNET_THREADS", "OPENBLAS_CORETYPE"] { if let v = ProcessInfo.processInfo.environment[k] { env[k] = v } }
    return env
}

/// The tool version recorded in run records.
let masknetVersion = "0.1.0"
