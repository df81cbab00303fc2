import Foundation
import Synchronization

/// Parallel loops for the non-BLAS kernels (im2col, elementwise, batch norm, pooling).
///
/// Work is split into at most `ThreadingConfiguration.workerCount` contiguous chunks so that each core
/// touches one region of memory; tiny loops run inline because dispatch costs more than they do.
///
/// The worker count never changes results: products split only rows or columns of C, and every
/// reduction either runs on one thread or in chunks whose size does not depend on the worker count.
public enum ThreadingConfiguration {
    /// Environment variable setting the worker count (`run --threads` sets it too).
    public static let threadsVariable = "MASKNET_THREADS"

    /// Number of worker threads for our own kernels: `MASKNET_THREADS` when set, else the active cores.
    /// A bad value stops the process with a message naming the variable.
    public static var workerCount: Int {
        get { configuredWorkerCount.load(ordering: .relaxed) }
        set { configuredWorkerCount.store(newValue, ordering: .relaxed) }
    }

    /// Atomic (relaxed): the CLI and tests set it while kernels on other threads read it, and a kernel that
    /// starts during a change runs correctly with either value.
    static let configuredWorkerCount = Atomic<Int>({
        let cores = ProcessInfo.processInfo.activeProcessorCount
        do {
            return try workerCount(fromEnvironment: ProcessInfo.processInfo.environment[threadsVariable], cores: cores)
        } catch {
            FileHandle.standardError.write(Data("masknet: \(error)\n".utf8))
            exit(2)
        }
    }())

    /// Parses a `MASKNET_THREADS` value (nil or empty: `cores`).
    public static func workerCount(fromEnvironment value: String?, cores: Int) throws -> Int {
        guard let value, !value.isEmpty else { return max(1, cores) }
        guard let count = Int(value), count > 0 else {
            throw ThreadCountError(message: "\(threadsVariable)=\(value) is not a positive whole number of threads; "
                                   + "unset it to use all \(cores) cores")
        }
        return count
    }

    /// A bad `MASKNET_THREADS` value.
    public struct ThreadCountError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

/// Calls `body(range)` over disjoint chunks covering `0..<count`, in parallel when it is worth it.
/// `minimumChunk` is the smallest number of iterations worth sending to another thread.
@inlinable
public func parallelChunks(_ count: Int, minimumChunk: Int = 1024, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let workers = min(ThreadingConfiguration.workerCount, max(1, count / max(minimumChunk, 1)))
    if workers <= 1 { body(0..<count); return }
    let chunk = (count + workers - 1) / workers
    concurrentIterations(workers) { worker in
        let start = worker * chunk
        let end = min(count, start + chunk)
        if start < end { body(start..<end) }
    }
}

/// Runs `body(i)` for every `i` in `0..<iterations` on Dispatch's worker threads and returns when all are done.
///
/// Dispatch asks for a `@Sendable` closure, and the kernels' closures capture raw pointers, which Swift
/// cannot check. What makes them safe is the kernels' contract, not their types: each iteration writes its
/// own disjoint part of the output and only reads what is shared, and every iteration has finished when
/// this returns, so nothing outlives the call. This is the one place that vouches for it.
@usableFromInline
func concurrentIterations(_ iterations: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: iterations) { shared.value($0) }
    }
}

/// A value handed to other threads on its owner's word (see `concurrentIterations`).
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @usableFromInline init(_ value: Value) { self.value = value }
}

/// Calls `body(i)` for each `i` in `0..<count`, spreading iterations over the workers.
/// Use when each iteration is substantial (a channel, an image plane, a RoI).
@inlinable
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    guard count > 0 else { return }
    if count == 1 || ThreadingConfiguration.workerCount <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    parallelChunks(count, minimumChunk: 1) { range in for i in range { body(i) } }
}
