import ArgumentParser
import Benchmarks
import Foundation
import ObjectDetection
import TensorCore
import VisionBackbones

extension Masknet.Bench {
    /// `masknet bench maskrcnn`: Mask R-CNN training step and inference against the PyTorch seed configuration.
    struct MaskRCNNCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "maskrcnn",
            abstract: "Time a Mask R-CNN training step (forward, backward, Adam) and inference at 512×512 on a slice with two lesions, beside PyTorch.")

        @Option(help: "Models to time, as depth-truncation (resnet18-1, resnet34-1, resnet50).")
        var model: [String] = ["resnet18-1", "resnet50"]
        @Option(help: "Square image size.") var size = 512
        @OptionGroup var options: BenchOptions

        func validate() throws {
            guard size >= 64, size % 32 == 0 else { throw ValidationError("--size must be a multiple of 32 and ≥ 64, got \(size)") }
            for name in model { _ = try BackboneCommand.parse(name) }
        }

        func run() throws {
            options.applyThreads()
            let (runs, python, json) = (options.runs, options.python, options.json)
            let threadCount = ThreadingConfiguration.workerCount
            if !json { print(machineDescription()) }
            for name in model {
                // Each model is measured in its own child process, so peak memory is that model's alone.
                let ours = try BenchmarkProcess(CommandLine.arguments[0], [
                    "bench", "maskrcnn-worker", name, "--size", "\(size)", "--runs", "\(runs)", "--threads", "\(threadCount)",
                ]).decoded(MaskRCNNBenchmark.Result.self)
                var reference: [String: Any]?
                if let python {
                    let script = try ReferenceScripts(explicit: options.referenceScripts).script("bench_maskrcnn_torch.py").path
                    reference = try BenchmarkProcess(python, [script, "--model", name, "--size", "\(size)",
                                                              "--runs", "\(runs)", "--threads", "\(threadCount)"]).jsonObject()
                }
                if json {
                    var object: [String: Any] = ["model": name,
                                                 "ours": try JSONSerialization.jsonObject(with: JSONEncoder().encode(ours))]
                    if let reference { object["pytorch"] = reference }
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                    continue
                }
                print("Mask R-CNN \(ours.model) at \(ours.imageSize)², \(ours.threads) threads, \(ours.detections) detections")
                let stages = ours.inferenceStages.sorted { $0.value > $1.value }
                    .map { String(format: "%@ %.3f", $0.key, $0.value) }.joined(separator: ", ")
                print("  inference stages (s): \(stages)")
                if let reference, let train = reference["training_step_seconds"] as? Double,
                   let infer = reference["inference_seconds"] as? Double,
                   let memory = reference["peak_resident_mib"] as? Double {
                    let table = ComparisonTable(rows: [
                        .init("training step", ours: ours.trainingStepSeconds, reference: train, unit: .seconds),
                        .init("inference", ours: ours.inferenceSeconds, reference: infer, unit: .seconds),
                        .init("peak memory", ours: ours.peakResidentMiB, reference: memory, unit: .mebibytes),
                    ])
                    table.lines.forEach { print($0) }
                } else {
                    print(String(format: "  training step %.3f s, inference %.3f s, peak memory %.0f MiB (pass --python to compare with PyTorch)",
                                 ours.trainingStepSeconds, ours.inferenceSeconds, ours.peakResidentMiB))
                }
            }
        }
    }

    /// The measuring child of `bench maskrcnn` (one model per process, for honest peak memory).
    struct MaskRCNNWorker: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "maskrcnn-worker", shouldDisplay: false)
        @Argument var model: String
        @Option var size = 512
        @Option var runs = 5
        @OptionGroup var threads: ThreadsOption

        func run() throws {
            threads.apply()
            let backbone = try BackboneCommand.parse(model)
            let configuration = MaskRCNNConfiguration(backbone: backbone, maskType: .merge)
            let result = MaskRCNNBenchmark(configuration: configuration, runs: runs).run(imageSize: size)
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        }
    }
}
