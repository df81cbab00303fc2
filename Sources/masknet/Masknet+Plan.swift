import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet plan`: what would run and why, without running anything.
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what `run` would do and why, without running anything.")

        @Argument(help: "Pipeline file (YAML).") var pipeline: String
        @Option(name: .customLong("stage"), help: "Plan only this stage and what it needs; repeatable.") var stages: [String] = []
        @Option(name: .customLong("force"), help: "Treat this stage as forced; repeatable.") var force: [String] = []
        @Option(name: .customLong("set"), help: "Override a parameter (as for run); repeatable.") var overrides: [String] = []
        @Flag(name: .long, help: "Store the specs (and file: inputs) of the stages that would run, so `masknet stage exec KEY` can run them; without it, plan writes nothing.")
        var recordSpecs = false
        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let graph = try loadGraph(pipeline, overrides: overrides)
            let entries = try Planner(store: try storeOptions.open(creating: recordSpecs)).plan(graph, stages: stages, force: force, recordSpecs: recordSpecs)
            for e in entries {
                let key = e.willRun ? e.key.map { " [key \($0.prefix(16))]" } ?? "" : ""
                emit("\(e.willRun ? "run " : "skip") \(e.stage)\(key): \(e.reasons.joined(separator: "; "))\n")
            }
            let n = entries.filter(\.willRun).count
            emit("\(n) of \(entries.count) stage\(entries.count == 1 ? "" : "s") would run\n")
        }
    }
}
