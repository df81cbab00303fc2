import ArgumentParser
import Foundation
import PipelineEngine

/// Options shared by the pipeline commands.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Artifact store directory (default: $MASKNET_STORE, else Artifacts/).")
    var store: String?

    /// Opens the store (creating it unless `creating` is false: `plan`, `why` and `status` only read).
    func open(creating: Bool = true) throws -> ArtifactStore { try ArtifactStore(root: ArtifactStore.defaultRoot(store), creating: creating) }
}

/// Loads and validates a pipeline. A `PipelineValidationError` (every diagnostic) reaches the entry point,
/// which prints it and exits with code 2.
func loadGraph(_ path: String, overrides: [String] = []) throws -> PipelineGraph {
    let registry = registeredStageKinds()
    let definition = try PipelineParser(registry: registry).parse(file: URL(fileURLWithPath: path), overrides: overrides)
    return try PipelineGraph(definition, registry: registry)
}

/// Prints to stdout.
func emit(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }

