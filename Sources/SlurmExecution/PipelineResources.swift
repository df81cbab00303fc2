import Foundation
import PipelineEngine
import Yams

/// The `resources:` and `retries:` of each stage in a pipeline file, by stage name (cells share their stage's).
///
/// Read here, from the file's text, rather than carried through the engine's stage definitions: they
/// concern executors only and must never reach a stage key (a result computed on Slurm is a cache hit
/// locally and the other way round). The parser accepts the two keys and leaves them alone.
public struct PipelineResources: Sendable, Equatable {
    /// `stages.<name>.resources`, parsed.
    public var resources: [String: StageResources] = [:]
    /// `stages.<name>.retries`.
    public var retries: [String: Int] = [:]

    /// No per-stage settings.
    public init() {}

    /// Reads the two keys of every stage of `text`; errors name `file` and the key path.
    public init(pipelineText text: String, file: String) throws {
        self.init()
        guard let top = try? Yams.load(yaml: text) as? [String: Any], let stages = top["stages"] as? [String: Any] else { return }
        for (name, value) in stages {
            guard let stage = value as? [String: Any] else { continue }
            if let r = stage["resources"] {
                guard let mapping = r as? [String: Any] else {
                    throw SlurmError(.invalidConfiguration, "\(file): stages.\(name).resources: expected a mapping such as {cpus: 4, mem: 16G, time: \"12:00:00\"}")
                }
                resources[name] = try StageResources(mapping: mapping, origin: "\(file): stages.\(name).resources")
            }
            if let n = stage["retries"] {
                guard let n = n as? Int, n >= 0 else {
                    throw SlurmError(.invalidConfiguration, "\(file): stages.\(name).retries: expected a whole number ≥ 0")
                }
                retries[name] = n
            }
        }
    }

    /// Reads the settings of a parsed pipeline.
    public init(_ definition: PipelineDefinition) throws {
        try self.init(pipelineText: definition.sourceText, file: definition.file.path)
    }
}
