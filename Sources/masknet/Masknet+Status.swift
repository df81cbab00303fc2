import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet status`: recent runs and the store's size.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List recent runs and the store's contents.")

        @Argument(help: "A run submitted with `run --detach`: show its stages' Slurm jobs and results.") var runID: String?
        @Flag(name: .long, help: "With RUN: follow it until every stage is done (exit 0) or a job failed (exit 1).") var watch = false
        @Option(name: .long, help: "How many runs to list.") var limit: Int = 10
        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let store = try storeOptions.open(creating: false)
            if let runID { return try SlurmRunOptions.followDetached(runID, store: store, watch: watch) }
            let runs = store.runs()
            emit("store \(store.root.path): \(runs.count) run\(runs.count == 1 ? "" : "s")\n")
            for (key, holder) in store.heldLocks() { emit("computing now: \(key.prefix(12)) (\(holder))\n") }
            emit("\n")
            emit("| run | pipeline | status | computed | cached | failed | gates |\n|---|---|---|---|---|---|---|\n")
            for r in runs.prefix(limit) {
                var status = r.status.rawValue
                if r.status == .running && kill(r.pid, 0) != 0 { status = "interrupted (runner gone)" }
                let c = r.stages.filter { $0.status == .computed }.count, h = r.stages.filter { $0.status == .cached }.count
                let f = r.stages.filter { $0.status == .failed || $0.status == .interrupted }.count
                let g = r.verdicts
                emit("| \(r.id) | \(r.pipeline) | \(status) | \(c) | \(h) | \(f) | \(g.isEmpty ? "" : "\(g.filter(\.passed).count)/\(g.count) pass") |\n")
            }
        }
    }
}
