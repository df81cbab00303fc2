import Foundation

/// Everything a running stage may touch.
///
/// Inputs are read-only hard links to store objects (never write to them). Outputs go to
/// `outputURL(name)` in a scratch directory; the engine verifies and publishes them atomically after
/// `execute` returns. `checkpointDirectory` survives interruption and failure, and is deleted once the
/// stage's result is published, so a long stage can resume within itself.
///
/// Unchecked Sendable: every mutable property (`_cancelled`, `_pauseRequested`, `_cancelHandlers`,
/// `_logHandle`, `_peakMemory`) is read and written under `_lock`; the rest is `let`.
public final class StageContext: @unchecked Sendable {
    /// The stage's name in the pipeline (a sweep cell's full name, e.g. `train[lr=0.1]`).
    public let stageName: String
    /// The resolved parameters.
    public let parameters: ParameterValues
    /// Slot name → path of the bound artifact (a file, or a directory). Read-only.
    public let inputs: [String: URL]
    /// Directory where each declared output must be created as `outputDirectory/<name>`.
    public let outputDirectory: URL
    /// Directory for temporary files (deleted after the stage).
    public let temporaryDirectory: URL
    /// Directory that survives interruption, for resuming within the stage.
    public let checkpointDirectory: URL
    /// The stage's seed, derived from the pipeline seed and the stage name; part of the key.
    public let seed: UInt64
    /// The declared output names.
    public let outputNames: [String]
    /// File that collects the stage's log (also where `command` writes stdout/stderr).
    public let logURL: URL

    private let _progress: @Sendable (StageProgress) -> Void
    private let _lock = NSLock()
    private var _cancelled = false
    private var _pauseRequested = false
    private var _cancelHandlers: [@Sendable () -> Void] = []
    private var _logHandle: FileHandle?
    private var _peakMemory = 0

    /// Creates a context (the engine does this; tests of kinds may too).
    public init(stageName: String, parameters: ParameterValues, inputs: [String: URL], outputDirectory: URL,
                temporaryDirectory: URL, checkpointDirectory: URL, seed: UInt64, outputNames: [String],
                logURL: URL, progress: @escaping @Sendable (StageProgress) -> Void = { _ in }) {
        self.stageName = stageName
        self.parameters = parameters
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.temporaryDirectory = temporaryDirectory
        self.checkpointDirectory = checkpointDirectory
        self.seed = seed
        self.outputNames = outputNames
        self.logURL = logURL
        self._progress = progress
    }

    /// Where to write the output `name` (a file, or a directory you create).
    public func outputURL(_ name: String) -> URL {
        precondition(outputNames.contains(name), "output '\(name)' is not declared; declared: \(outputNames)")
        return outputDirectory.appendingPathComponent(name)
    }

    /// The path bound to input slot `name`, if bound.
    public func input(_ name: String) -> URL? { inputs[name] }

    /// Reports progress (shown live on a terminal, as log lines, or as JSON events).
    public func report(_ progress: StageProgress) { _progress(progress) }

    /// Appends a line to the stage log.
    public func log(_ message: String) {
        _lock.lock(); defer { _lock.unlock() }
        if _logHandle == nil {
            if !FileManager.default.fileExists(atPath: logURL.path) {
                _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
            }
            _logHandle = try? FileHandle(forWritingTo: logURL)
            _ = try? _logHandle?.seekToEnd()
        }
        _logHandle?.write(Data((message + "\n").utf8))
    }

    /// Records the peak resident memory of a child process the stage ran (bytes); the engine keeps the max.
    public func notePeakMemory(_ bytes: Int) {
        _lock.lock(); defer { _lock.unlock() }
        _peakMemory = max(_peakMemory, bytes)
    }

    var _notedPeakMemory: Int { _lock.lock(); defer { _lock.unlock() }; return _peakMemory }

    /// Whether the run was interrupted; long stages should check it between steps and throw.
    public var isCancelled: Bool { _lock.lock(); defer { _lock.unlock() }; return _cancelled }

    /// Whether the stage was asked to pause (Slurm's USR2 before a time limit or preemption): a training
    /// stage writes a resumable checkpoint of where it is at its next step and stops, so that the next
    /// attempt continues from there. The context is cancelled as well, so a stage that cannot pause stops.
    public var isPauseRequested: Bool { _lock.lock(); defer { _lock.unlock() }; return _pauseRequested }

    /// Asks the stage to pause, then cancels it (`stage exec` on USR2).
    public func requestPause() {
        _lock.lock(); _pauseRequested = true; _lock.unlock()
        cancel()
    }

    /// Registers work to do on interruption (e.g. kill a child process). Runs at once if already cancelled.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        _lock.lock()
        if _cancelled { _lock.unlock(); handler(); return }
        _cancelHandlers.append(handler)
        _lock.unlock()
    }

    /// Marks the context cancelled and runs the cancellation handlers (engine use).
    public func cancel() {
        _lock.lock()
        if _cancelled { _lock.unlock(); return }
        _cancelled = true
        let handlers = _cancelHandlers
        _cancelHandlers = []
        _lock.unlock()
        for h in handlers { h() }
    }

    func _closeLog() {
        _lock.lock(); defer { _lock.unlock() }
        try? _logHandle?.close()
        _logHandle = nil
    }
}
