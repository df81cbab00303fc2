import Foundation

/// Runs stages inside this process (the default executor).
///
/// Each stage gets its own thread with a 64 MiB stack rather than a task on Swift's cooperative pool:
/// the pool has one thread per core (two here), so CPU-bound stages would starve the scheduler and
/// `--jobs` above the core count would not overlap anything, and the model code recurses over large
/// autograd graphs (see `LocalExecutor.stackBytes`). The scheduler above it is structured concurrency.
public struct LocalExecutor: Executor {
    /// Stack size of a stage thread.
    public static let stackBytes = 64 << 20

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
