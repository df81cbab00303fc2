import ArgumentParser
import Benchmarks
import Foundation
import ObjectDetection
import TensorCore

extension Masknet.Bench {
    /// `masknet bench roi`: NMS and RoIAlign forward/backward timings, optionally beside torchvision.
    struct RoICommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "roi",
            abstract: "Time NMS (4000 boxes) and RoIAlign forward/backward (512 RoIs 7×7, 128 RoIs 14×14, 256 channels).")

        @OptionGroup var options: BenchOptions

        func run() throws {
            options.applyThreads()
            let (runs, python, json) = (options.runs, options.python, options.json)
            let ours = DetectionPrimitivesBenchmark(runs: runs).run()
            var reference: [[String: Any]] = []
            if let python {
                let script = try ReferenceScripts(explicit: options.referenceScripts).script("bench_roi_torch.py").path
                let object = try BenchmarkProcess(python, [script, "--runs", "\(runs)", "--threads",
                                                           "\(ThreadingConfiguration.workerCount)"]).jsonObject()
                guard let cases = object["cases"] as? [[String: Any]] else {
                    throw BenchmarkFailure("Tools/bench_roi_torch.py printed no JSON object with 'cases'")
                }
                reference = cases
            }
            if json {
                var object: [String: Any] = ["threads": ThreadingConfiguration.workerCount,
                                             "ours": try JSONSerialization.jsonObject(with: JSONEncoder().encode(ours))]
                if !reference.isEmpty { object["pytorch"] = reference }
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
                             as: UTF8.self))
                return
            }
            print("detection primitives, \(ThreadingConfiguration.workerCount) threads, median of \(runs)")
            for (index, timing) in ours.enumerated() {
                let torch = index < reference.count ? reference[index] : nil
                func cell(_ ours: Double?, _ theirs: Double?) -> String {
                    guard let ours else { return "" }
                    guard let theirs else { return String(format: "%8.2f ms", ours * 1000) }
                    return String(format: "%8.2f ms (torch %8.2f ms, ratio %.2f)", ours * 1000, theirs * 1000, ours / theirs)
                }
                print("  \(timing.name)")
                print("    forward  " + cell(timing.forwardSeconds, torch?["forward_seconds"] as? Double))
                if let backward = timing.backwardSeconds {
                    print("    backward " + cell(backward, torch?["backward_seconds"] as? Double))
                }
            }
        }
    }
}
