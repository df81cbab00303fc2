import Foundation

/// Runs stages inside this process (the default executor).
///
/// Each stage gets its own thread rather than a task on Swift's cooperative pool: a stage blocks for
/// minutes (training, file I/O, child processes), and the pool has one thread per core (two here), so
/// stages on it would starve the scheduler's own tasks and `--jobs` above the core count would not overlap
/// anything. The scheduler above it is structured concurrency (a task group bounded by `--jobs`).
public struct LocalExecutor: Executor {
    /// Stack size of a stage thread: 8 MiB, the usual main-thread size. Measured need: the deepest model's
    /// training (ResNet50 truncation 0, both mask classes, 256-pixel input) runs as `masknet stage exec` on the
    /// main thread under `ulimit -s 256`, so 256 KiB is enough; autograd's backward walks the tape in a loop,
    /// not by recursion. (Earlier versions reserved 64 MiB without a measurement.)
    public static let stackBytes = 8 << 20

    public var name: String { "local" }

    /// Creates the executor.
    public init() {}

    public func execute(_ batch: [StageJob], store: ArtifactStore, callbacks: ExecutorCallbacks) async {
        await withTaskGroup(of: Void.self) { group in
            for job in batch {
                group.addTask { await LocalExecutor.run(job, store: store, callbacks: callbacks) }
            }
        }
    }

    static func run(_ job: StageJob, store: ArtifactStore, callbacks: ExecutorCallbacks) async {
        let cancellation = _StageCancellation()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    _ = StageCache(store: store).execute(
                        key: job.key, stageName: job.stage, kind: job.kind, statusFile: job.statusFile, force: job.force,
                        cancelled: { cancellation.isCancelled }, waiting: { callbacks.waiting(job, $0) },
                        context: { cancellation.attach($0) }, progress: { callbacks.progress(job, $0) })
                    done.resume()
                }
                thread.stackSize = LocalExecutor.stackBytes
                thread.start()
            }
        } onCancel: {
            cancellation.cancel()
        }
        callbacks.finished(job)
    }
}

/// Cancellation of one in-process stage: remembered if it comes before the stage's context exists.
/// Unchecked Sendable: `_cancelled` and `_context` are read and written only under `_lock`.
final class _StageCancellation: @unchecked Sendable {
    private let _lock = NSLock()
    private var _cancelled = false
    private var _context: StageContext?

    var isCancelled: Bool { _lock.lock(); defer { _lock.unlock() }; return _cancelled }

    func attach(_ context: StageContext) {
        _lock.lock()
        _context = context
        let c = _cancelled
        _lock.unlock()
        if c { context.cancel() }
    }

    func cancel() {
        _lock.lock()
        _cancelled = true
        let context = _context
        _lock.unlock()
        context?.cancel()
    }
}
