import Foundation

/// A stage the scheduler has decided to compute: its spec is already written to the store, so whoever
/// executes it needs nothing but the store (`masknet stage exec KEY` does exactly that).
public struct StageJob: Sendable {
    /// The full stage key (`specs/<key>.json` exists).
    public let key: String
    /// The resolved stage name (a sweep cell's full name, e.g. `train[lr=0.1]`).
    public let stage: String
    /// The name in the pipeline file (cells of one swept stage share it: a batch system can submit
    /// them as one job array).
    public let baseName: String
    /// The kind, for executors that run in this process.
    public let kind: any StageKind
    /// Where the stage's `StageExecStatus` must be written (`runs/<id>/status/<stage>.json`).
    public let statusFile: URL
    /// A file the executor may use for the stage's process output (`runs/<id>/logs/<stage>.exec.log`).
    public let executorLog: URL
    /// Recompute even if the store holds a result (`run --force`).
    public let force: Bool

    /// Creates a job.
    public init(key: String, stage: String, baseName: String, kind: any StageKind, statusFile: URL, executorLog: URL, force: Bool) {
        self.key = key; self.stage = stage; self.baseName = baseName; self.kind = kind
        self.statusFile = statusFile; self.executorLog = executorLog; self.force = force
    }
}

/// What an executor may report while jobs run.
public struct ExecutorCallbacks: Sendable {
    /// A job ended (in any way): its outcome is now in the store (status file, action record).
    public var finished: @Sendable (StageJob) -> Void
    /// Progress inside a job, when the executor can see it.
    public var progress: @Sendable (StageJob, StageProgress) -> Void
    /// A job waits for another process that holds its key's lock.
    public var waiting: @Sendable (StageJob, String) -> Void

    /// Creates callbacks.
    public init(finished: @escaping @Sendable (StageJob) -> Void,
                progress: @escaping @Sendable (StageJob, StageProgress) -> Void = { _, _ in },
                waiting: @escaping @Sendable (StageJob, String) -> Void = { _, _ in }) {
        self.finished = finished; self.progress = progress; self.waiting = waiting
    }
}

/// Runs ready stages somewhere: in this process, as child processes, or as batch jobs.
///
/// The scheduler keeps the DAG and the cache decisions; it hands an executor a batch of ready jobs
/// (never more than `--jobs` stages in flight over all batches) and learns each outcome from the store,
/// never from the executor's memory: the action record when published, else the job's status file
/// (`StageExecStatus`). An executor therefore has one duty per job: make sure that, when it calls
/// `finished`, the status file exists (writing a failed/interrupted one itself if the stage died without
/// one). `execute` returns once every job of the batch has been reported.
///
/// Cancellation is the task's: when the run is interrupted (SIGINT/SIGTERM), the task running `execute`
/// is cancelled, and the executor stops its jobs (cancels in-process contexts, signals children,
/// cancels batch jobs), still reporting each one.
///
/// A batch system fits the same shape: submit the batch (e.g. cells with the same `baseName` as one
/// array), poll, write status files for jobs that vanished, and cancel on task cancellation.
public protocol Executor: Sendable {
    /// The name used by `--executor`.
    var name: String { get }
    /// Runs every job of the batch; calls `callbacks.finished` once per job as it ends.
    func execute(_ batch: [StageJob], store: ArtifactStore, callbacks: ExecutorCallbacks) async
}

extension StageJob {
    /// Writes a status file for a job that ended without writing its own (e.g. killed by a signal).
    /// Never overwrites one the stage wrote.
    public func recordLoss(_ outcome: StageExecStatus.Outcome, message: String, store: ArtifactStore) {
        if FileManager.default.fileExists(atPath: statusFile.path) { return }
        try? StageExecStatus(key: key, stage: stage, outcome: outcome, message: message).write(to: statusFile, store: store)
    }
}
