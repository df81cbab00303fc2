import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs each stage as a `masknet stage exec KEY` child process: the exact path a batch job takes, with
/// crash isolation (a stage that traps, or is killed by the out-of-memory killer, fails alone).
///
/// The child's stdout and stderr go to the job's `executorLog`. On cancellation each child gets SIGTERM
/// (it cancels its stage, which stops its own children, and writes an `interrupted` status). A child that
/// dies without a status file gets one written here, naming the signal or exit status.
public struct ProcessExecutor: Executor {
    /// The `masknet` executable.
    public let executable: URL

    public var name: String { "process" }

    /// An executor that starts `executable stage exec …`.
    public init(executable: URL) { self.executable = executable }

    public func execute(_ batch: [StageJob], store: ArtifactStore, callbacks: ExecutorCallbacks) async {
        await withTaskGroup(of: Void.self) { group in
            for job in batch {
                group.addTask { await self.run(job, store: store, callbacks: callbacks) }
            }
        }
    }

    /// The arguments of the child process for a job.
    public func arguments(for job: StageJob, store: ArtifactStore) -> [String] {
        ["stage", "exec", job.key, "--name", job.stage, "--status-file", job.statusFile.path, "--progress-file", job.progressFile.url.path,
         "--store", store.root.path] + (job.force ? ["--force"] : [])
    }

    func run(_ job: StageJob, store: ArtifactStore, callbacks: ExecutorCallbacks) async {
        let child = _ChildProcess()
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments(for: job, store: store)
        FileManager.default.createFile(atPath: job.executorLog.path, contents: nil)
        let log = FileHandle(forWritingAtPath: job.executorLog.path)
        process.standardOutput = log ?? FileHandle.nullDevice
        process.standardError = log ?? FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        // The child reports progress into its progress file; show it live while the child runs.
        let watcher = _ProgressWatcher(file: job.progressFile) { callbacks.progress(job, $0.progress) }
        defer { watcher.stop() }
        let started: Bool = await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
                process.terminationHandler = { _ in done.resume(returning: true) }
                do {
                    try process.run()
                    child.started(process.processIdentifier)
                } catch {
                    job.recordLoss(.failed, message: "cannot start \(executable.path): \(error)", store: store)
                    done.resume(returning: false)
                }
            }
        } onCancel: {
            child.terminate()
        }
        try? log?.close()
        if started {
            let code = process.terminationStatus
            if process.terminationReason == .uncaughtSignal {
                let name = code == SIGKILL ? "SIGKILL (out of memory, or killed by hand)" : code == SIGTERM ? "SIGTERM" : "signal \(code)"
                job.recordLoss(child.wasTerminated ? .interrupted : .failed,
                               message: "`masknet stage exec` was killed by \(name); see \(job.executorLog.path)", store: store)
            } else if code != 0 {
                job.recordLoss(child.wasTerminated ? .interrupted : .failed,
                               message: "`masknet stage exec` exited with status \(code) without a status file; see \(job.executorLog.path)", store: store)
            }
        }
        callbacks.finished(job)
    }
}

/// A child's pid, and whether we asked it to stop (so a later SIGTERM death reads as an interruption).
/// Unchecked Sendable: `_pid` and `_terminated` are read and written only under `_lock`.
final class _ChildProcess: @unchecked Sendable {
    private let _lock = NSLock()
    private var _pid: Int32 = 0
    private var _terminated = false

    var wasTerminated: Bool { _lock.lock(); defer { _lock.unlock() }; return _terminated }

    func started(_ pid: Int32) {
        _lock.lock()
        _pid = pid
        let stop = _terminated
        _lock.unlock()
        if stop { kill(pid, SIGTERM) }
    }

    func terminate() {
        _lock.lock()
        _terminated = true
        let pid = _pid
        _lock.unlock()
        if pid > 0 { kill(pid, SIGTERM) }
    }
}

/// Reads a stage's progress file once a second and reports each new reading, until stopped.
/// Unchecked Sendable: `last` is touched only by the timer's event handler, on the timer's serial queue;
/// `timer` is a `let` (cancelling a dispatch source is thread-safe).
final class _ProgressWatcher: @unchecked Sendable {
    private let timer: DispatchSourceTimer
    private var last: Date?

    init(file: StageProgressFile, report: @escaping @Sendable (StageProgressFile.Reading) -> Void) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "masknet.progress"))
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [unowned self] in
            guard let reading = file.read(), reading.updated != self.last else { return }
            self.last = reading.updated
            report(reading)
        }
        timer.resume()
    }

    func stop() { timer.cancel() }
}
