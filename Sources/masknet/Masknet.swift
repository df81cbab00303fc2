import ArgumentParser
import Foundation
import MaskNetStages
import PipelineEngine
import SlurmExecution
import TensorCore

/// The masknet command-line tool: parses, validates and calls the library; it holds no logic of its own.
@main
struct Masknet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "masknet",
        abstract: "Rerun, check and extend COVID-CT-Mask-Net: lesion segmentation and COVID-19 classification.",
        version: RunEnvironment.version,
        subcommands: [Model.self, Bench.self, CocoEval.self, Synth.self, Run.self, Plan.self, Why.self, Dag.self, Status.self, Metrics.self, Report.self, Schema.self, GC.self, Stage.self, Export.self, Infer.self, ConvertCheckpoint.self]
    )

    /// Checks OpenBLAS's kernels against the CPU before any command runs, then parses and runs. The one
    /// place where errors become exit codes: an invalid pipeline prints every diagnostic and exits 2
    /// (documented); ArgumentParser's errors exit 64 with the usage; any other error (a missing run, an
    /// unreadable file, a failed Slurm query) prints its message without the usage and exits 1. Commands
    /// return their documented result codes (`run`: 0, 1, 3; `stage exec`) by throwing `ExitCode`.
    static func main() {
        ensureOpenBLASMatchesCPU()
        SlurmClient.installLeaseLiveness()
        // `--version` adds the build (the executable's SHA-256 prefix), which ArgumentParser's static
        // version string cannot carry; hashing the executable only when asked keeps other commands fast.
        if Array(CommandLine.arguments.dropFirst()) == ["--version"] {
            print(RunEnvironment.versionLine())
            return
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as PipelineValidationError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            exit(withError: ExitCode(RunExitCode.invalidPipeline))
        } catch {
            exit(withError: error)
        }
    }

    /// Runs this process again with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to kernels below the
    /// CPU (it reads the variable only when it loads); warns when the user's own setting keeps them below.
    static func ensureOpenBLASMatchesCPU() {
        let environment = ProcessInfo.processInfo.environment
        switch OpenBLASCoreCheck.decide(coreName: BLAS.coreName, features: .current, environment: environment) {
        case .keep:
            return
        case .belowCPU(let best):
            FileHandle.standardError.write(Data((
                "masknet: warning: OpenBLAS runs its \(BLAS.coreName) kernels on a CPU with \(CPUFeatures.current.summary); "
                + "OPENBLAS_CORETYPE=\(environment[OpenBLASCoreCheck.coreTypeVariable] ?? "") is respected "
                + "(\(best) would be faster; this affects MASKNET_GEMM=openblas only: masknet's own GEMM does not use OpenBLAS)\n").utf8))
        case .reexecute(let coreType):
            setenv(OpenBLASCoreCheck.coreTypeVariable, coreType, 1)
            setenv(OpenBLASCoreCheck.chosenByMasknetVariable, "1", 1)
            let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
            execv("/proc/self/exe", arguments)
            // Only reached when exec failed: carry on with the slower kernels, but say so.
            FileHandle.standardError.write(Data((
                "masknet: warning: OpenBLAS fell back to its \(BLAS.coreName) kernels and re-running with "
                + "OPENBLAS_CORETYPE=\(coreType) failed (errno \(errno)); set it yourself for full speed\n").utf8))
        }
    }
}
