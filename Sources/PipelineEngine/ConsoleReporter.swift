import Foundation

/// Renders run events: a live status line on a terminal, plain log lines otherwise, JSON lines for
/// machines, or nothing but failures with `quiet`.
///
/// Unchecked Sendable: `started`, `latest`, `origins`, `lastDraw` and `statusShown` are touched only under `lock`
/// (the ticker's handler takes it too); `ticker` is set once in init; the rest is `let`.
public final class ConsoleReporter: @unchecked Sendable {
    /// Output style.
    public enum Style: Sendable { case live, plain, json, quiet }
    private let style: Style
    private let lock = NSLock()
    private var started: [String: Date] = [:]
    private var latest: [String: StageProgress] = [:]
    private var origins: [String: ProgressOrigin] = [:]
    private var lastDraw = Date.distantPast
    private var statusShown = false
    private let write: @Sendable (String) -> Void

    private var ticker: DispatchSourceTimer?

    /// Creates a reporter writing to `write` (stderr by default for human styles, stdout for JSON).
    public init(style: Style, write: (@Sendable (String) -> Void)? = nil) {
        self.style = style
        self.write = write ?? { s in
            FileHandle.standardError.write(Data(s.utf8))
        }
        if style == .live {
            // Refresh elapsed times and ETAs even when a stage reports nothing for a while.
            let t = DispatchSource.makeTimerSource(queue: .global())
            t.schedule(deadline: .now() + 1, repeating: 1)
            t.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock(); defer { self.lock.unlock() }
                if !self.started.isEmpty { self.lastDraw = .distantPast; self.drawStatus() }
            }
            t.resume()
            ticker = t
        }
    }

    deinit { ticker?.cancel() }

    /// Handles one event.
    public func handle(_ event: RunEvent) {
        lock.lock(); defer { lock.unlock() }
        if style == .json { write(ConsoleReporter.json(event).canonicalText + "\n"); return }
        var line: String?
        switch event {
        case .runStarted(let id, let n): line = style == .quiet ? nil : "run \(id): \(n) stage\(n == 1 ? "" : "s")"
        case .stageCached(let s, let key): line = style == .quiet ? nil : "✓ \(s) cached (\(key.prefix(12)))"
        case .stageStarted(let s, let key, let reason):
            started[s] = Date()
            line = style == .quiet ? nil : "▶ \(s) started (\(reason); key \(key.prefix(12)))"
        case .progress(let s, let p):
            latest[s] = p
            if origins[s] == nil, let f = p.fraction { origins[s] = ProgressOrigin(fraction: f, time: Date()) }
            if style == .plain {
                // Plain logs get at most one progress line per stage per second.
                if Date().timeIntervalSince(lastDraw) > 1 { lastDraw = Date(); line = "  \(s): \(ConsoleReporter.describe(p, from: origins[s]))" }
            } else if style == .live { drawStatus() }
        case .stageFinished(let s, let seconds):
            started[s] = nil; latest[s] = nil; origins[s] = nil
            line = style == .quiet ? nil : "✓ \(s) done in \(String(format: "%.2f", seconds)) s"
        case .stageFailed(let s, let m):
            started[s] = nil; latest[s] = nil; origins[s] = nil
            line = "✗ \(s) FAILED: \(m)"
        case .stageSkipped(let s, let r): line = style == .quiet ? nil : "- \(s) skipped: \(r)"
        case .waiting(let s, let h): line = style == .quiet ? nil : "… \(s) waits for the same key computed by \(h)"
        case .damaged(let s, let p): line = "! \(s): damaged cache entry: \(p)"
        case .runFinished(let id, let status, let code): line = style == .quiet && code == 0 ? nil : "run \(id) \(status) (exit \(code))"
        }
        if let line {
            if style == .live && statusShown { write("\r\u{1B}[K") ; statusShown = false }
            write(line + "\n")
            if style == .live && !started.isEmpty { drawStatus() }
        }
    }

    private func drawStatus() {
        guard Date().timeIntervalSince(lastDraw) > 0.1 || !statusShown else { return }
        lastDraw = Date()
        let parts = started.keys.sorted().map { s in "\(s): \(latest[s].map { ConsoleReporter.describe($0, from: origins[s]) } ?? "running \(Int(Date().timeIntervalSince(started[s]!))) s")" }
        var text = parts.joined(separator: " | ")
        if text.count > 200 { text = String(text.prefix(199)) + "…" }
        write("\r\u{1B}[K" + text)
        statusShown = true
    }

    /// `epoch 3/10 step 40/100 loss 0.412 12.5 images/s 40% ETA 1m20s`, the ETA at the pace since `origin`.
    public static func describe(_ p: StageProgress, from origin: ProgressOrigin?, now: Date = Date()) -> String {
        var parts: [String] = []
        if let e = p.epoch { parts.append("epoch \(e)" + (p.epochs.map { "/\($0)" } ?? "")) }
        if let s = p.step { parts.append("step \(s)" + (p.steps.map { "/\($0)" } ?? "")) }
        if let l = p.loss { parts.append(String(format: "loss %.4g", l)) }
        if let t = p.throughput { parts.append(String(format: "%.3g %@/s", t, p.unit ?? "items")) }
        if let f = p.fraction, let left = origin?.secondsLeft(at: f, now: now) {
            let eta = Int(left.rounded())
            parts.append(String(format: "%.0f%% ETA %dm%02ds", f * 100, eta / 60, eta % 60))
        }
        if let m = p.message { parts.append(m) }
        return parts.joined(separator: " ")
    }

    /// The JSON form of an event (one object per line with `--json`).
    public static func json(_ e: RunEvent) -> JSONValue {
        var o: [String: JSONValue] = ["time": .string(_now())]
        switch e {
        case .runStarted(let id, let n): o["event"] = "run_started"; o["run"] = .string(id); o["stages"] = .integer(n)
        case .stageCached(let s, let k): o["event"] = "stage_cached"; o["stage"] = .string(s); o["key"] = .string(k)
        case .stageStarted(let s, let k, let r): o["event"] = "stage_started"; o["stage"] = .string(s); o["key"] = .string(k); o["reason"] = .string(r)
        case .progress(let s, let p):
            o["event"] = "progress"; o["stage"] = .string(s)
            if let v = p.epoch { o["epoch"] = .integer(v) }
            if let v = p.epochs { o["epochs"] = .integer(v) }
            if let v = p.step { o["step"] = .integer(v) }
            if let v = p.steps { o["steps"] = .integer(v) }
            if let v = p.loss, v.isFinite { o["loss"] = .number(v) }
            if let v = p.throughput, v.isFinite { o["throughput"] = .number(v) }
            if let v = p.unit { o["unit"] = .string(v) }
            if let v = p.fraction, v.isFinite { o["fraction"] = .number(v) }
            if let v = p.message { o["message"] = .string(v) }
        case .stageFinished(let s, let sec): o["event"] = "stage_finished"; o["stage"] = .string(s); o["seconds"] = .number(sec)
        case .stageFailed(let s, let m): o["event"] = "stage_failed"; o["stage"] = .string(s); o["message"] = .string(m)
        case .stageSkipped(let s, let r): o["event"] = "stage_skipped"; o["stage"] = .string(s); o["reason"] = .string(r)
        case .waiting(let s, let h): o["event"] = "waiting"; o["stage"] = .string(s); o["holder"] = .string(h)
        case .damaged(let s, let p): o["event"] = "damaged"; o["stage"] = .string(s); o["problem"] = .string(p)
        case .runFinished(let id, let st, let c): o["event"] = "run_finished"; o["run"] = .string(id); o["status"] = .string(st.rawValue); o["exit_code"] = .integer(Int(c))
        }
        return .object(o)
    }
}
