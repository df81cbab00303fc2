import Foundation

/// The scalars of a training run (losses per component, learning rate, throughput, validation metrics)
/// by global step. Rows are appended to a journal file as they come, so a resumed run keeps the steps
/// of the epochs it resumes after; `publish` writes `metrics.csv` and a TensorBoard event file.
public final class ScalarLog {
    /// One scalar.
    public struct Entry: Equatable, Sendable {
        public var step: Int, epoch: Int, wallTime: Double, tag: String, value: Double
        public init(step: Int, epoch: Int, wallTime: Double, tag: String, value: Double) {
            self.step = step; self.epoch = epoch; self.wallTime = wallTime; self.tag = tag; self.value = value
        }
    }

    public private(set) var entries: [Entry] = []
    let journal: URL?
    var handle: FileHandle?

    /// A log journaled to `journal` (nil: in memory only). Entries of epochs after `keepingEpochs` in an
    /// existing journal are dropped: they belong to an interrupted epoch that will run again. A run paused
    /// inside the next epoch keeps that epoch's entries up to its global step `keepingStepsThrough`.
    public init(journal: URL?, keepingEpochs: Int = 0, keepingStepsThrough: Int? = nil) throws {
        self.journal = journal
        guard let journal else { return }
        if let text = try? String(contentsOf: journal, encoding: .utf8) {
            entries = text.split(separator: "\n").dropFirst().compactMap { line -> Entry? in
                let parts = line.split(separator: ",", omittingEmptySubsequences: false)
                guard parts.count == 5, let step = Int(parts[0]), let epoch = Int(parts[1]), let wall = Double(parts[2]),
                      let value = Double(parts[4]) else { return nil }
                return Entry(step: step, epoch: epoch, wallTime: wall, tag: String(parts[3]), value: value)
            }.filter { $0.epoch <= keepingEpochs || ($0.epoch == keepingEpochs + 1 && $0.step <= keepingStepsThrough ?? -1) }
        }
        try FileManager.default.createDirectory(at: journal.deletingLastPathComponent(), withIntermediateDirectories: true)
        let kept = (["step,epoch,wall_time,tag,value"] + entries.map(Self.journalLine)).joined(separator: "\n") + "\n"
        try Data(kept.utf8).write(to: journal, options: .atomic)
        handle = try FileHandle(forWritingTo: journal)
        try handle?.seekToEnd()
    }

    deinit { try? handle?.close() }

    /// Records scalars at a step (non-finite values are kept in the CSV, skipped in event files).
    public func add(step: Int, epoch: Int, _ scalars: [String: Double], wallTime: Double = Date().timeIntervalSince1970) {
        let new = scalars.keys.sorted().map { Entry(step: step, epoch: epoch, wallTime: wallTime, tag: $0, value: scalars[$0]!) }
        entries += new
        if let handle { try? handle.write(contentsOf: Data(new.map { Self.journalLine($0) + "\n" }.joined().utf8)) }
    }

    /// The values of one tag as (step, value), in step order.
    public func series(_ tag: String) -> [(step: Int, value: Double)] {
        entries.filter { $0.tag == tag }.map { ($0.step, $0.value) }
    }

    /// Every tag, sorted.
    public var tags: [String] { Array(Set(entries.map(\.tag))).sorted() }

    /// `metrics.csv`: one row per step, `step,epoch,wall_time` and a column per tag (empty where a tag
    /// has no value at that step), readable by pandas and spreadsheets.
    public var csv: String {
        let tags = self.tags
        var rows: [Int: (epoch: Int, wall: Double, values: [String: Double])] = [:]
        for e in entries {
            rows[e.step, default: (e.epoch, e.wallTime, [:])].values[e.tag] = e.value
        }
        var lines = [(["step", "epoch", "wall_time"] + tags).joined(separator: ",")]
        for step in rows.keys.sorted() {
            let row = rows[step]!
            lines.append(([String(step), String(row.epoch), String(format: "%.3f", row.wall)]
                          + tags.map { row.values[$0].map { "\($0)" } ?? "" }).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The events, one per step holding every scalar of the step.
    public var events: [TensorBoardEvent] {
        var byStep: [Int: TensorBoardEvent] = [:]
        for e in entries where e.value.isFinite {
            byStep[e.step, default: TensorBoardEvent(wallTime: e.wallTime, step: Int64(e.step))].scalars.append((e.tag, Float(e.value)))
        }
        return byStep.keys.sorted().map { byStep[$0]! }
    }

    /// Writes `metrics.csv` to `csvURL` and an event file into `eventDirectory`.
    public func publish(csv csvURL: URL, eventDirectory: URL) throws {
        try Data(csv.utf8).write(to: csvURL, options: .atomic)
        try TensorBoardEventFile.write(events, to: eventDirectory, wallTime: entries.first?.wallTime ?? Date().timeIntervalSince1970)
    }

    static func journalLine(_ e: Entry) -> String { "\(e.step),\(e.epoch),\(e.wallTime),\(e.tag),\(e.value)" }
}
