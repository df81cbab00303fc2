import ArgumentParser

/// The masknet command-line tool: parses, validates and calls the library; it holds no logic of its own.
@main
struct Masknet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "masknet",
        abstract: "Rerun, check and extend COVID-CT-Mask-Net: lesion segmentation and COVID-19 classification.",
        subcommands: [Model.self, Bench.self, CocoEval.self, Synth.self, Run.self, Plan.self, Why.self, Dag.self, Status.self, Metrics.self, Report.self, Schema.self, GC.self, Stage.self, Infer.self]
    )
}
