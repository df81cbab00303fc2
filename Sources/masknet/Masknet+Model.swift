import ArgumentParser
import CTDatasets
import ObjectDetection
import VisionBackbones

extension Masknet {
    /// Model inspection commands.
    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect the seed's models.", subcommands: [Summary.self])
    }
}

extension Masknet.Model {
    /// `masknet model summary`: parameter counts per component (spec §2.4).
    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print parameter counts per component and totals for one configuration.")

        @Option(help: "resnet18, resnet34 or resnet50.") var backbone: String = "resnet18"
        @Option(help: "Truncation 0, 1 or 2 (ignored by resnet50).") var truncation: Int = 1
        @Option(name: .customLong("mask-type"), help: "both, ggo or merge (sets the class count).")
        var maskType: String = "merge"
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard let depth = ResNetDepth(rawValue: backbone) else {
                throw ValidationError("--backbone must be one of \(ResNetDepth.allCases.map(\.rawValue).joined(separator: ", ")), got '\(backbone)'")
            }
            guard (0...2).contains(truncation) else { throw ValidationError("--truncation must be 0, 1 or 2, got \(truncation)") }
            guard let type = MaskType(rawValue: maskType) else {
                throw ValidationError("--mask-type must be both, ggo or merge, got '\(maskType)'")
            }
            let configuration = MaskRCNNConfiguration(
                backbone: BackboneConfiguration(depth: depth, truncation: truncation), maskType: type)
            let summary = MaskRCNN(configuration: configuration, seed: 0).summary
            if json {
                print(try String(decoding: JSONEncoderForCLI.encode(summary), as: UTF8.self))
            } else {
                print(summary.table(title: "Mask R-CNN \(depth.rawValue) truncation \(configuration.backbone.truncation), mask type \(type.rawValue) (n_c = \(type.classCount))"))
            }
        }
    }
}
