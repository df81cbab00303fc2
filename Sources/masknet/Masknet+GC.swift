import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet gc`: removes what kept runs do not reach.
    struct GC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove runs by pipeline/age, then every object and record the kept runs do not reach.")

        @Option(name: .long, help: "Keep only the newest N runs of each pipeline.") var keepLast: Int?
        @Option(name: .long, help: "Remove runs older than this many days.") var olderThan: Double?
        @Option(name: .long, help: "Apply the rules only to this pipeline (alone: remove all its runs).") var pipeline: String?
        @Flag(name: .long, help: "Say what would be removed without removing it.") var dryRun = false
        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            var o = GCOptions()
            o.keepLast = keepLast; o.olderThanDays = olderThan; o.pipeline = pipeline; o.dryRun = dryRun
            let r = try storeOptions.open().collectGarbage(o)
            emit("\(dryRun ? "would remove" : "removed") \(r.removedRuns.count) run(s), \(r.removedActions) action record(s), \(r.removedObjects) object(s); \(dryRun ? "would free" : "freed") \(formatBytes(r.freedBytes)); kept \(r.keptRuns) run(s); \(dryRun ? "would drop" : "dropped") \(r.prunedStateEntries) stale file-state entr\(r.prunedStateEntries == 1 ? "y" : "ies")\n")
        }
    }
}
