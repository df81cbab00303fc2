import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet export`: a stage's output from the store as ordinary files.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a stage's output out of the store (hard link where possible; trees as folders).",
            discussion: """
            STAGE.OUTPUT exports one output as DEST; STAGE alone exports every output into the folder DEST. \
            The outputs come from the last run (default), from --run RUN, or from the store's current result \
            of a pipeline (--pipeline FILE, with --set as for run). Example: \
            masknet export train-segmentation.checkpoint model.safetensors
            """)

        @Argument(help: "STAGE or STAGE.OUTPUT (a sweep cell by its full name, e.g. 'train[lr=0.1].checkpoint').") var output: String
        @Argument(help: "Destination (must not exist).") var destination: String
        @Option(name: .customLong("run"), help: "Take the outputs of this run (id, unique prefix, or 'last').") var runID: String?
        @Option(name: .long, help: "Take the stored result of this pipeline's stage as it stands now.") var pipeline: String?
        @Option(name: .customLong("set"), help: "Override a parameter of --pipeline (as for run); repeatable.") var overrides: [String] = []
        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            if runID != nil && pipeline != nil { throw ValidationError("give --run or --pipeline, not both") }
            if !overrides.isEmpty && pipeline == nil { throw ValidationError("--set applies to --pipeline only") }
        }

        func run() throws {
            let store = try storeOptions.open(creating: false)
            let stages: [StageRunRecord]
            if let pipeline {
                stages = try Planner(store: store).storedStages(try loadGraph(pipeline, overrides: overrides))
            } else {
                stages = try store.run(runID ?? "last").stages
            }
            let (_, outputs, single) = try OutputExport.select(output, in: stages)
            let made = try OutputExport.export(outputs, single: single, to: URL(fileURLWithPath: destination), store: store)
            for url in made { emit("\(url.path)\n") }
        }
    }
}
