import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet schema`: the JSON Schema of pipeline files, generated from the registered kinds.
    struct Schema: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the JSON Schema of pipeline files (commit it as Schemas/pipeline.schema.json).")

        @Option(name: .shortAndLong, help: "Write to this file instead of stdout.") var output: String?

        func run() throws {
            let text = PipelineSchema.generate(registeredStageKinds())
            if let output { try Data(text.utf8).write(to: URL(fileURLWithPath: output)) } else { emit(text) }
        }
    }
}
