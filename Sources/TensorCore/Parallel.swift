import Foundation

/// Parallel loops for the non-BLAS kernels (im2col, elementwise, batch norm, pooling).
///
/// Work is split into at most `ThreadingConfiguration.workerCount` contiguous chunks so that each core
/// touches one region of memory; tiny loops run inline because dispatch costs more than they do.
public enum ThreadingConfiguration {
    /// Number of worker threads for our own kernels (defaults to the number of active cores).
    nonisolated(unsafe) public static var workerCount: Int = ProcessInfo.processInfo.activeProcessorCount
}

/// Calls `body(range)` over disjoint chunks covering `0..<count`, in parallel when it is worth it.
/// `minimumChunk` is the smallest number of iterations worth sending to another thread.
@inlinable
public func parallelChunks(_ count: Int, minimumChunk: Int = 1024, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let workers = min(ThreadingConfiguration.workerCount, max(1, count / max(minimumChunk, 1)))
    if workers <= 1 { body(0..<count); return }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        let start = worker * chunk
        let end = min(count, start + chunk)
        if start < end { body(start..<end) }
    }
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
