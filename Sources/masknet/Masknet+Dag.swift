import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet dag`: the stage graph as text, Mermaid or Graphviz dot.
    struct Dag: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the stage graph (sweeps expanded).")

        @Argument(help: "Pipeline file (YAML).") var pipeline: String
        @Option(name: .long, help: "text, mermaid or dot.") var format: String = "text"
        @Option(name: .customLong("set"), help: "Override a parameter (as for run); repeatable.") var overrides: [String] = []

        func run() throws {
            let graph = try loadGraph(pipeline, overrides: overrides)
            emit(try graph.render(format: format))
        }
    }
}
