import Foundation

/// A stage's latest progress as a file in the run folder (`runs/<id>/progress/<stage>.json`), written by
/// `masknet stage exec --progress-file` and read by a driver whose stage runs in another process or on
/// another node (the process and Slurm executors), so it can show epoch e/E and an ETA while it waits.
public struct StageProgressFile: Sendable {
    /// The file.
    public let url: URL

    /// Wraps a path.
    public init(url: URL) { self.url = url }

    /// What the file holds: the progress fields, when the stage started reporting and when last.
    struct Snapshot: Codable {
        var epoch: Int?
        var epochs: Int?
        var step: Int?
        var steps: Int?
        var loss: Double?
        var throughput: Double?
        var unit: String?
        var fraction: Double?
        var message: String?
        var started: Double
        var updated: Double
        /// The first fraction written and when (absent in files written before ETAs counted from it).
        var originFraction: Double?
        var origin: Double?
    }

    /// A progress report as read back: the fields, the stage's own start (for the ETA), the time written.
    public struct Reading: Sendable, Equatable {
        /// The progress.
        public var progress: StageProgress
        /// When the stage started (its process's clock).
        public var started: Date
        /// When it was written.
        public var updated: Date
        /// The first fraction the stage wrote and when: the ETA's pace counts from there, so a stage that
        /// resumed mid-way is not timed as if its earlier progress had been made since it started.
        public var origin: ProgressOrigin?

        /// Where the pace counts from: `origin`, or, in files written before it existed, 0 at the stage's start.
        var paceOrigin: ProgressOrigin { origin ?? ProgressOrigin(fraction: 0, time: started) }

        /// Seconds left at the pace since `paceOrigin`.
        public var etaSeconds: Double? {
            progress.fraction.flatMap { paceOrigin.secondsLeft(at: $0, now: updated) }
        }

        /// `epoch 3/10 step 40/100 loss 0.41 30% ETA 2m05s`, the console's format with the ETA by the stage's own
        /// clock, not the driver's, which would count queue time.
        public var summary: String { ConsoleReporter.describe(progress, from: paceOrigin, now: updated) }
    }

    /// The last progress written, or nil (not yet written, or cut short).
    public func read() -> Reading? {
        guard let data = FileManager.default.contents(atPath: url.path),
              let s = try? JSONDecoder().decode(Snapshot.self, from: data) else { return nil }
        return Reading(progress: StageProgress(epoch: s.epoch, epochs: s.epochs, step: s.step, steps: s.steps, loss: s.loss,
                                               throughput: s.throughput, unit: s.unit, fraction: s.fraction, message: s.message),
                       started: Date(timeIntervalSince1970: s.started), updated: Date(timeIntervalSince1970: s.updated),
                       origin: s.originFraction.flatMap { f in s.origin.map { ProgressOrigin(fraction: f, time: Date(timeIntervalSince1970: $0)) } })
    }

    /// Writes progress at most once per `interval` seconds (a training loop reports every step; a shared
    /// filesystem should not be written that often), each time to a temporary file renamed over the last.
    /// Unchecked Sendable: `lastWrite` and `origin` are read and written only under `lock`; the rest is `let`.
    public final class Writer: @unchecked Sendable {
        private let file: StageProgressFile
        private let interval: Double
        private let lock = NSLock()
        private let started = Date()
        private var lastWrite = Date.distantPast
        private var origin: ProgressOrigin?

        /// A writer for `file`.
        public init(_ file: StageProgressFile, interval: Double = 1) {
            self.file = file; self.interval = interval
        }

        /// Records `p` unless the last write is younger than the interval.
        public func write(_ p: StageProgress) {
            lock.lock()
            let now = Date()
            guard now.timeIntervalSince(lastWrite) >= interval else { lock.unlock(); return }
            lastWrite = now
            if origin == nil, let f = p.fraction { origin = ProgressOrigin(fraction: f, time: now) }
            let origin = origin
            lock.unlock()
            let s = Snapshot(epoch: p.epoch, epochs: p.epochs, step: p.step, steps: p.steps, loss: p.loss, throughput: p.throughput,
                             unit: p.unit, fraction: p.fraction, message: p.message,
                             started: started.timeIntervalSince1970, updated: now.timeIntervalSince1970,
                             originFraction: origin?.fraction, origin: origin?.time.timeIntervalSince1970)
            let url = file.url
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? JSONEncoder().encode(s).write(to: url, options: .atomic)
        }
    }
}

extension StageJob {
    /// Where `stage exec` leaves the job's progress: `runs/<id>/progress/<stage>.json`.
    public var progressFile: StageProgressFile {
        StageProgressFile(url: statusFile.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("progress").appendingPathComponent(statusFile.lastPathComponent))
    }
}
