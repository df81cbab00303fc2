import Foundation

/// The Slurm commands the executor needs, with their output parsed: submit (retrying transient controller
/// errors, under a submit rate limit), one status query for a whole run, one cancel for a whole run,
/// the cluster's configuration, and one job's details.
///
/// Unchecked Sendable: the counters, `lastSubmit` and `generator` are used only under `lock`; `retry`,
/// `submitsPerSecond` and `sleep` are set only while configuring, before the client is shared.
public final class SlurmClient: @unchecked Sendable {
    /// How commands are run.
    public let commandLine: SlurmCommandLine
    /// How `sbatch` failures are retried.
    public var retry: SubmissionRetry
    /// At most this many `sbatch` calls per second.
    public var submitsPerSecond: Double
    /// Sleeps (replaced in tests of the retry logic).
    public var sleep: @Sendable (Double) -> Void = { usleep(useconds_t(max(0, $0) * 1_000_000)) }

    private let lock = NSLock()
    private var _statusQueries = 0
    private var _submissions = 0
    private var _submitRetries = 0
    private var _queueCountQueries = 0
    private var _usageQueries = 0
    private var lastSubmit = Date.distantPast
    private var generator = SystemRandomNumberGenerator()

    /// Creates a client.
    public init(commandLine: SlurmCommandLine = SlurmCommandLine(), retry: SubmissionRetry = SubmissionRetry(), submitsPerSecond: Double = 2) {
        self.commandLine = commandLine; self.retry = retry; self.submitsPerSecond = submitsPerSecond
    }

    /// Status queries made so far (recorded in the run record; bounded by the poll schedule).
    public var statusQueries: Int { lock.lock(); defer { lock.unlock() }; return _statusQueries }
    /// Successful `sbatch` calls so far.
    public var submissions: Int { lock.lock(); defer { lock.unlock() }; return _submissions }
    /// Queries of this user's queue length (before submissions, for `max_jobs_in_queue`).
    public var queueCountQueries: Int { lock.lock(); defer { lock.unlock() }; return _queueCountQueries }
    /// `sstat` calls sampling running jobs' memory (at most one per poll round, whatever the job count).
    public var usageQueries: Int { lock.lock(); defer { lock.unlock() }; return _usageQueries }
    /// `sbatch` calls repeated after a transient error.
    public var submitRetries: Int { lock.lock(); defer { lock.unlock() }; return _submitRetries }

    /// Whether this machine can reach a Slurm controller (`scontrol ping` answers UP).
    public func controllerIsUp() -> Bool {
        guard let r = try? commandLine.run("scontrol", ["ping"]) else { return false }
        return r.succeeded && r.output.contains("UP")
    }

    /// Submits `script` (on standard input) with `options`; returns the job id (`sbatch --parsable`).
    /// Transient controller errors are retried with jittered exponential back-off; a site limit throws
    /// `.limitRejected` naming it; anything else throws `.rejected` with Slurm's message.
    public func submit(script: String, options: [String]) throws -> String {
        var attempt = 0
        while true {
            waitForSubmitSlot()
            let result = try commandLine.run("sbatch", ["--parsable"] + options, input: script)
            if result.succeeded {
                // --parsable prints "jobid" or "jobid;cluster".
                let id = result.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
                guard !id.isEmpty, id.allSatisfy(\.isNumber) else {
                    throw SlurmError(.rejected, "sbatch printed '\(result.output.trimmingCharacters(in: .whitespacesAndNewlines))' instead of a job id")
                }
                lock.lock(); _submissions += 1; lock.unlock()
                return id
            }
            let message = result.error.trimmingCharacters(in: .whitespacesAndNewlines)
            if let limit = SubmissionRetry.limit(in: message) {
                throw SlurmError(.limitRejected(limit: limit),
                                 "Slurm refused the job because of a site limit (\(limit)): \(message). Ask for less (resources: in the pipeline, or the profile), use another partition/QOS, or lower max_jobs_in_queue in the profile")
            }
            guard SubmissionRetry.isTransient(message) else {
                throw SlurmError(.rejected, "sbatch failed: \(message.isEmpty ? "exit status \(result.status.map(String.init) ?? "?")" : message)")
            }
            guard attempt < retry.maxRetries else {
                throw SlurmError(.transient, "sbatch kept failing with a controller error after \(attempt + 1) attempts: \(message)")
            }
            lock.lock()
            let delay = retry.delay(beforeRetry: attempt, using: &generator)
            _submitRetries += 1
            lock.unlock()
            sleep(delay)
            attempt += 1
        }
    }

    private func waitForSubmitSlot() {
        lock.lock()
        let next = lastSubmit.addingTimeInterval(1 / submitsPerSecond)
        let wait = next.timeIntervalSinceNow
        lastSubmit = max(Date(), next)
        lock.unlock()
        if wait > 0 { sleep(wait) }
    }

    /// Every job and array task named `name` (a run-specific name), in any state Slurm still remembers:
    /// ONE `squeue` call for the whole run, never one per job. Slurm keeps ended jobs visible for `MinJobAge`.
    public func jobStates(named name: String) throws -> [SlurmJobStatus] {
        lock.lock(); _statusQueries += 1; lock.unlock()
        let r = try commandLine.run("squeue", ["--noheader", "--array", "--states=all", "--name=\(name)", "--format=\(SlurmClient.queueFormat)"])
        guard r.succeeded else {
            throw SlurmError(SubmissionRetry.isTransient(r.error) ? .transient : .rejected, "squeue failed: \(r.error.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return SlurmClient.parseQueue(r.output)
    }

    /// The columns of a status query: job id, array job id, array index, state, reason, nodes, submit time,
    /// start time, time used, and the name last (it may contain `|`).
    public static let queueFormat = "%A|%F|%K|%T|%r|%N|%V|%S|%M|%j"

    /// Parses `squeue --format=\(queueFormat)` rows.
    public static func parseQueue(_ text: String) -> [SlurmJobStatus] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 10 else { return nil }
            return SlurmJobStatus(jobID: f[0], arrayJobID: f[1], arrayIndex: Int(f[2]), state: SlurmJobState(rawValue: f[3]),
                                  reason: f[4], nodes: f[5], name: f[9...].joined(separator: "|"),
                                  submitTime: parseTime(f[6]), startTime: parseTime(f[7]), timeUsedSeconds: parseDuration(f[8]))
        }
    }

    /// Slurm's `2026-12-07T05:21:35` (the controller's local time); nil for `N/A`, `Unknown` or empty.
    static func parseTime(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        formatter.timeZone = .current
        return formatter.date(from: text)
    }

    /// Slurm's durations `[D-]HH:MM:SS`, `MM:SS` or `SS` in seconds; nil for `INVALID`, `N/A` or empty.
    static func parseDuration(_ text: String) -> Double? {
        var days = 0.0
        var rest = Substring(text)
        if let dash = rest.firstIndex(of: "-") {
            guard let d = Double(rest[..<dash]) else { return nil }
            days = d
            rest = rest[rest.index(after: dash)...]
        }
        let parts = rest.split(separator: ":").map { Double($0) }
        guard !parts.isEmpty, parts.count <= 3, !parts.contains(where: { $0 == nil }) else { return nil }
        return days * 86400 + parts.reduce(0.0) { $0 * 60 + $1! }
    }

    /// The peak resident memory so far (bytes) of each running job in `ids`, with ONE `sstat` for all of them
    /// (it asks the nodes' slurmd, so it works without an accounting database); the largest step counts.
    public func peakMemory(ofJobs ids: [String]) -> [String: Int] {
        guard !ids.isEmpty else { return [:] }
        lock.lock(); _usageQueries += 1; lock.unlock()
        guard let r = try? commandLine.run("sstat", ["--noheader", "--parsable2", "--allsteps", "--format=JobID,MaxRSS", "--jobs=\(ids.joined(separator: ","))"]),
              r.succeeded || !r.output.isEmpty else { return [:] }
        return SlurmClient.parsePeakMemory(r.output)
    }

    /// Parses `sstat --parsable2 --format=JobID,MaxRSS` rows (`12.batch|63956K`) into job id → bytes.
    static func parsePeakMemory(_ text: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false)
            guard f.count >= 2, let job = f[0].split(separator: ".").first, let bytes = parseMemory(String(f[1])) else { continue }
            out[String(job)] = max(out[String(job)] ?? 0, bytes)
        }
        return out
    }

    /// Slurm's memory figures: `63956K`, `1.5G`, `0`; a bare number is in KiB (Slurm's base unit here).
    static func parseMemory(_ text: String) -> Int? {
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        guard let last = text.last else { return nil }
        if let scale = units[last], let v = Double(text.dropLast()) { return Int(v * scale) }
        return Double(text).map { Int($0 * 1024) }
    }

    /// How many jobs (array tasks counted one each) this user has queued or running, ours or not.
    public func queuedJobCount() throws -> Int {
        lock.lock(); _queueCountQueries += 1; lock.unlock()
        let r = try commandLine.run("squeue", ["--noheader", "--array", "--me", "--states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED,REQUEUED", "--format=%i"])
        guard r.succeeded else { throw SlurmError(.transient, "squeue failed: \(r.error.trimmingCharacters(in: .whitespacesAndNewlines))") }
        return r.output.split(separator: "\n").count
    }

    /// Cancels every job named `name` with ONE `scancel`; `signal` sends that signal instead of cancelling.
    public func cancelAll(named name: String, signal: String? = nil) throws {
        var args = ["--name=\(name)", "--me"]
        if let signal { args += ["--signal=\(signal)", "--batch"] }
        let r = try commandLine.run("scancel", args)
        guard r.succeeded else { throw SlurmError(.rejected, "scancel --name=\(name) failed: \(r.error.trimmingCharacters(in: .whitespacesAndNewlines))") }
    }

    /// `scontrol show config` as key → value.
    public func configuration() throws -> [String: String] {
        let r = try commandLine.run("scontrol", ["show", "config"])
        guard r.succeeded else { throw SlurmError(.unavailable, "scontrol show config failed: \(r.error.trimmingCharacters(in: .whitespacesAndNewlines))") }
        var out: [String: String] = [:]
        for line in r.output.split(separator: "\n") {
            guard let eq = line.range(of: " = ") else { continue }
            out[line[..<eq.lowerBound].trimmingCharacters(in: .whitespaces)] = line[eq.upperBound...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// The cluster's `MaxArraySize` (array indices must be below it); Slurm's default 1001 when not shown.
    public func maxArraySize() throws -> Int { Int(try configuration()["MaxArraySize"] ?? "") ?? 1001 }

    /// `scontrol show job -o ID` as key → value (State, Reason, NodeList, ExitCode, StdOut…); nil when Slurm
    /// no longer knows the job.
    public func jobDetails(_ id: String) throws -> [String: String]? {
        let r = try commandLine.run("scontrol", ["show", "job", "-o", id])
        guard r.succeeded else { return nil }
        return SlurmClient.parseKeyValues(r.output)
    }

    /// Parses `Key=Value Key=Value …` (a value runs to the next ` Key=`).
    static func parseKeyValues(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        let pattern = try! NSRegularExpression(pattern: "(?:^|\\s)([A-Za-z:/]+)=")
        let ns = text as NSString
        let matches = pattern.matches(in: text, range: NSRange(location: 0, length: ns.length))
        for (i, m) in matches.enumerated() {
            let key = ns.substring(with: m.range(at: 1))
            let start = m.range.location + m.range.length
            let end = i + 1 < matches.count ? matches[i + 1].range.location : ns.length
            out[key] = ns.substring(with: NSRange(location: start, length: end - start)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return out
    }
}
