import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet stage exec KEY`: runs one stage as its own process from its recorded spec in the store.
    struct Stage: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Operate on single stages.", subcommands: [Exec.self])

        /// `masknet stage exec`.
        struct Exec: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Run one stage from nothing but its spec and input objects in the store (e.g. as a Slurm job).",
                discussion: "The spec is written to STORE/specs/ by `run`/`plan`. Exit status 0 means the action record is published.")

            @Argument(help: "Stage key (64 hex digits, or a unique prefix of at least 8, as printed by `masknet plan`).") var key: String
            @Option(name: .long, help: "Name shown in the log.") var name: String?
            @Option(name: .long, help: "Write the outcome here as JSON {\"exit_code\":…,\"message\":…}.") var statusFile: String?
            @OptionGroup var storeOptions: StoreOptions

            func run() throws {
                let store = try storeOptions.open()
                let code: Int32
                let message: String
                var fullKey = key
                do {
                    let record = try StageRunner.execute(key: key, name: name, store: store, registry: registeredStageKinds())
                    code = 0; message = "published \(record.outputs.count) output(s)"; fullKey = record.key
                } catch {
                    code = 1; message = "\(error)"
                }
                if let statusFile {
                    let v: JSONValue = ["exit_code": .integer(Int(code)), "message": .string(message), "key": .string(fullKey)]
                    try store.writeAtomically(v.canonicalData, to: URL(fileURLWithPath: statusFile))
                }
                FileHandle.standardError.write(Data("\(key.prefix(12)): \(message)\n".utf8))
                if code != 0 { throw ExitCode(code) }
            }
        }
    }
}
