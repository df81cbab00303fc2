import ArgumentParser
import Benchmarks
import Foundation
import TensorCore

extension Masknet.Bench {
    /// `masknet bench gemm`: our GEMM against OpenBLAS and the machine's FMA peak at the model's shapes.
    struct GEMMCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gemm",
            abstract: "GFLOP/s of masknet's GEMM, OpenBLAS (its own pick and Haswell) and the measured FMA peak.")

        @Option(help: "Timed repetitions (the median is reported).") var runs = 5
        @OptionGroup var threads: ThreadsOption
        @Flag(help: "Print JSON instead of a table.") var json = false

        func validate() throws {
            guard runs > 0 else { throw ValidationError("--runs must be positive, got \(runs)") }
        }

        func run() throws {
            threads.apply()
            let workers = ThreadingConfiguration.workerCount
            // Each backend runs in its own process: OpenBLAS reads OPENBLAS_CORETYPE only when it loads.
            var environment = ProcessInfo.processInfo.environment
            var sides: [(label: String, result: GEMMWorker.Result)] = []
            environment["MASKNET_GEMM"] = "masknet"
            sides.append(("masknet", try Self.measure(environment, runs: runs, threads: workers)))
            environment["MASKNET_GEMM"] = "openblas"
            sides.append(("OpenBLAS", try Self.measure(environment, runs: runs, threads: workers)))
            environment["OPENBLAS_CORETYPE"] = "Haswell"
            environment["MASKNET_OPENBLAS_CORETYPE_CHOSEN"] = nil
            sides.append(("OpenBLAS Haswell", try Self.measure(environment, runs: runs, threads: workers)))
            let peak = GEMMBenchmark.fmaPeak(workers: workers)
            if json {
                var object: [String: Any] = ["threads": workers, "cpu_features": CPUFeatures.current.summary,
                                             "shapes": GEMMBenchmark.modelShapes.map(\.name)]
                if let peak { object["fma_peak_gflops"] = peak }
                for side in sides {
                    object[side.label] = ["backend": side.result.backend, "gflops": side.result.gigaflops]
                }
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                return
            }
            print(machineDescription())
            print("\(workers) threads, median of \(runs); GFLOP/s (% of the measured FMA peak)")
            for side in sides { print("  \(side.label): \(side.result.backend)") }
            if let peak {
                print(String(format: "  FMA peak (tight loop of independent FMAs, %d threads): %.1f GFLOP/s", workers, peak))
            } else {
                print("  FMA peak: this CPU has no FMA")
            }
            let header = sides.map { $0.label.padding(toLength: 18, withPad: " ", startingAt: 0) }.joined(separator: " ")
            print("  " + "product".padding(toLength: 46, withPad: " ", startingAt: 0) + header + " ours/OpenBLAS")
            for (index, shape) in GEMMBenchmark.modelShapes.enumerated() {
                let cells = sides.map { side -> String in
                    let rate = side.result.gigaflops[index]
                    let cell = peak.map { String(format: "%6.1f (%3.0f%%)", rate, 100 * rate / $0) } ?? String(format: "%6.1f", rate)
                    return cell.padding(toLength: 18, withPad: " ", startingAt: 0)
                }.joined(separator: " ")
                let ratio = sides[0].result.gigaflops[index] / sides[1].result.gigaflops[index]
                print("  " + shape.name.padding(toLength: 46, withPad: " ", startingAt: 0) + cells + String(format: " %5.2f", ratio))
            }
        }

        static func measure(_ environment: [String: String], runs: Int, threads: Int) throws -> GEMMWorker.Result {
            let setting = ["MASKNET_GEMM", "OPENBLAS_CORETYPE"].compactMap { name in environment[name].map { "\(name)=\($0)" } }
            return try BenchmarkProcess(CommandLine.arguments[0], ["bench", "gemm-worker", "--runs", "\(runs)", "--threads", "\(threads)"],
                                        environment: environment, setting: setting.joined(separator: " ")).decoded(GEMMWorker.Result.self)
        }
    }

    /// The measuring child of `bench gemm` (one backend and OpenBLAS kernel set per process).
    struct GEMMWorker: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gemm-worker", shouldDisplay: false)
        @Option var runs = 5
        @OptionGroup var threads: ThreadsOption

        struct Result: Codable {
            var backend: String
            var gigaflops: [Double]
        }

        func run() throws {
            threads.apply()
            let rates = GEMMBenchmark.modelShapes.map { GEMMBenchmark.gigaflops($0, runs: runs) }
            let result = Result(backend: MatrixMultiply.backend.description, gigaflops: rates)
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        }
    }
}
