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
            emit(RunListing.text(runs: store.runs(), storeRoot: store.root, heldLocks: store.heldLocks(), limit: limit,
                                 localHost: localHostName()))
        }
    }
}
