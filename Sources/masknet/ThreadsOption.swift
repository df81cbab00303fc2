import ArgumentParser
import Foundation
import TensorCore

/// `--threads`: the one way a command sets the kernels' worker count (otherwise `$MASKNET_THREADS`, else all
/// cores). Benchmarks hand the same count to their reference side.
struct ThreadsOption: ParsableArguments {
    @Option(help: "Worker threads for the kernels (default: $MASKNET_THREADS, else all cores); computed numbers do not depend on it, timings do.")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// Sets the worker count, and exports it so that child processes (command stages, benchmark workers) use it too.
    func apply() {
        guard let threads else { return }
        ThreadingConfiguration.workerCount = threads
        setenv(ThreadingConfiguration.threadsVariable, String(threads), 1)
    }
}
