import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet why`: a stage's key component by component against the last run.
    struct Why: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Compare a stage's key, component by component, with the last run.")

        @Argument(help: "Pipeline file (YAML).") var pipeline: String
        @Argument(help: "Stage name (a sweep cell's full name, e.g. 'train[lr=0.1]').") var stage: String
        @Option(name: .customLong("set"), help: "Override a parameter (as for run); repeatable.") var overrides: [String] = []
        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let graph = try loadGraph(pipeline, overrides: overrides)
            let (lastRun, rows, entry) = try Planner(store: try storeOptions.open(creating: false)).why(graph, stage: stage)
            emit("\(stage): \(entry.willRun ? "would run" : "up to date") — \(entry.reasons.joined(separator: "; "))\n")
            emit("compared with \(lastRun.map { "run \($0)" } ?? "nothing (no earlier run of this stage)")\n\n")
            emit("| component | last run | now | |\n|---|---|---|---|\n")
            func cell(_ s: String?) -> String { (s ?? "—").replacingOccurrences(of: "\n", with: "⏎").replacingOccurrences(of: "|", with: "\\|") }
            for r in rows { emit("| \(r.component) | \(cell(r.last)) | \(cell(r.now)) | \(r.changed ? "changed" : "") |\n") }
        }
    }
}
