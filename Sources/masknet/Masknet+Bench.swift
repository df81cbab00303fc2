import ArgumentParser
import Benchmarks
import Foundation
import TensorCore
import VisionBackbones

extension Masknet {
    /// Speed benchmarks (never run as tests).
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks that print our time, the reference's time and their ratio.",
            subcommands: [GEMMCommand.self, GEMMWorker.self, BackboneCommand.self, BackboneWorker.self, RoICommand.self, MaskRCNNCommand.self, MaskRCNNWorker.self])
    }
}

extension Masknet.Bench {
    /// `masknet bench backbone`: backbone+FPN forward and forward+backward against PyTorch.
    struct BackboneCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backbone",
            abstract: "Time backbone+FPN forward and forward+backward at 512×512 and compare with PyTorch.")

        @Option(help: "Backbones to time, as depth-truncation (resnet18-1, resnet34-1, resnet50).")
        var backbone: [String] = ["resnet18-1", "resnet50"]
        @Option(help: "Square image size.") var size = 512
        @OptionGroup var options: BenchOptions

        func validate() throws {
            for name in backbone { _ = try Self.parse(name) }
        }

        func run() throws {
            options.applyThreads()
            let runs = options.runs
            if !options.json { print(machineDescription()) }
            for name in backbone {
                // Each backbone runs in its own process so that peak memory is that backbone's alone.
                let ours = try Self.measureInChild(name: name, size: size, runs: runs)
                let reference = try options.python.map { try Self.measureTorch(python: $0, scripts: options.referenceScripts, name: name, size: size, runs: runs) }
                if options.json {
                    var object: [String: Any] = ["backbone": name, "ours": try JSONSerialization.jsonObject(
                        with: JSONEncoder().encode(ours))]
                    if let reference { object["pytorch"] = reference }
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                    continue
                }
                print("backbone \(ours.backbone) at \(ours.imageSize)², \(ours.threads) threads, OpenBLAS kernels \(ours.blasKernels)")
                // Work is counted as direct-convolution FLOPs; Winograd layers need fewer, so the
                // effective rate can pass the sgemm ceiling.
                print(String(format: "  sgemm ceiling %.1f GFLOP/s; conv work %.2f GFLOP (direct) per forward+backward, effective %.1f GFLOP/s (%.0f%% of ceiling)",
                             ours.sgemmCeilingGFLOPSPerSecond, ours.convolutionGFLOPs, ours.achievedGFLOPSPerSecond,
                             100 * ours.achievedGFLOPSPerSecond / ours.sgemmCeilingGFLOPSPerSecond))
                if let reference, let torchForward = reference["forward_seconds"] as? Double,
                   let torchTraining = reference["forward_backward_seconds"] as? Double,
                   let torchMemory = reference["peak_resident_mib"] as? Double {
                    let table = ComparisonTable(rows: [
                        .init("forward", ours: ours.forwardSeconds, reference: torchForward, unit: .seconds),
                        .init("forward+backward", ours: ours.forwardBackwardSeconds, reference: torchTraining, unit: .seconds),
                        .init("peak memory", ours: ours.peakResidentMiB, reference: torchMemory, unit: .mebibytes),
                    ])
                    table.lines.forEach { print($0) }
                } else {
                    print(String(format: "  forward %.3f s, forward+backward %.3f s, peak memory %.0f MiB (pass --python to compare with PyTorch)",
                                 ours.forwardSeconds, ours.forwardBackwardSeconds, ours.peakResidentMiB))
                }
            }
        }

        static func parse(_ name: String) throws -> BackboneConfiguration {
            let parts = name.split(separator: "-")
            guard let depth = ResNetDepth(rawValue: String(parts[0])) else {
                throw ValidationError("unknown backbone '\(name)': use resnet18-T, resnet34-T (T = 0, 1, 2) or resnet50")
            }
            let truncation = parts.count > 1 ? Int(parts[1]) : 0
            guard let truncation, (0...2).contains(truncation) else {
                throw ValidationError("bad truncation in '\(name)': use 0, 1 or 2")
            }
            return BackboneConfiguration(depth: depth, truncation: truncation)
        }

        /// Runs `masknet bench backbone-worker` in a child process and decodes its JSON result.
        static func measureInChild(name: String, size: Int, runs: Int) throws -> BackboneBenchmark.Result {
            try BenchmarkProcess(CommandLine.arguments[0],
                                 ["bench", "backbone-worker", name, "--size", "\(size)", "--runs", "\(runs)",
                                  "--threads", "\(ThreadingConfiguration.workerCount)"]).decoded(BackboneBenchmark.Result.self)
        }

        static func measureTorch(python: String, scripts referenceScripts: String?, name: String, size: Int, runs: Int) throws -> [String: Any] {
            let script = try ReferenceScripts(explicit: referenceScripts).script("bench_backbone_torch.py").path
            return try BenchmarkProcess(python, [script, "--backbone", name, "--size", "\(size)", "--runs", "\(runs)",
                                                 "--threads", "\(ThreadingConfiguration.workerCount)"]).jsonObject()
        }
    }

    /// The measuring child of `bench backbone` (one backbone per process, for honest peak memory).
    struct BackboneWorker: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "backbone-worker", shouldDisplay: false)
        @Argument var backbone: String
        @Option var size = 512
        @Option var runs = 5
        @OptionGroup var threads: ThreadsOption

        func run() throws {
            threads.apply()
            let configuration = try BackboneCommand.parse(backbone)
            let result = BackboneBenchmark(configuration: configuration, imageSize: size, runs: runs).run()
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        }
    }
}

/// CPU model, vector features and the kernels products run on, printed at the top of every benchmark.
func machineDescription() -> String {
    var cpu = "unknown CPU"
    #if os(Linux)
    if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
       let name = line.split(separator: ":", maxSplits: 1).last {
        cpu = name.trimmingCharacters(in: .whitespaces)
    }
    #endif
    return "CPU \(cpu) (\(ProcessInfo.processInfo.activeProcessorCount) cores; \(CPUFeatures.current.summary)); "
        + "GEMM \(MatrixMultiply.backend); OpenBLAS kernels \(BLAS.kernelDescription)"
}

/// Options every benchmark with a PyTorch reference takes: repetitions, threads, the reference side and output.
struct BenchOptions: ParsableArguments {
    @Option(help: "Timed repetitions (the median is reported).") var runs = 5
    @OptionGroup var threads: ThreadsOption
    @Option(help: "A Python with torch and torchvision; runs this benchmark's Tools/bench_*_torch.py script for the reference side.")
    var python: String?
    @Option(help: "Folder of the reference scripts (default: the Tools folder of the checkout this binary was built in).")
    var referenceScripts: String?
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        guard runs > 0 else { throw ValidationError("--runs must be positive, got \(runs)") }
    }

    /// Applies `--threads` to our kernels (OpenBLAS stays single-threaded; see `BLAS`).
    func applyThreads() {
        threads.apply()
    }
}
