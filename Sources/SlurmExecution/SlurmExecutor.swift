import Crypto
import Foundation
import PipelineEngine
#if canImport(Glibc)
import Glibc
#endif

/// Runs ready stages as Slurm jobs: each job runs `masknet stage exec KEY` on a node, and the stage's outcome
/// is read from the store (action record, status file), never from Slurm alone.
///
/// - Cells of one stage with equal resources go out as job arrays, split by the cluster's `MaxArraySize`.
/// - One `squeue` per poll covers every job of the run (they share a run-specific job name), with the
///   adaptive back-off of `PollSchedule`, however many batches the scheduler has in flight.
/// - A job Slurm reports ended without a status file or action record is waited for a bounded time (the
///   shared filesystem may lag), then fails with Slurm's state and reason, the node and the log's tail; node
///   failures, preemption and time-outs are resubmitted up to `retries` times (jobs carry `--no-requeue`, so
///   Slurm never resubmits on its own).
/// - Cancelling the task running `execute` (Ctrl-C) cancels every job of the run with ONE `scancel`.
/// - Cheap stages run on the driver through `local` when the profile allows it.
///
/// Unchecked Sendable: every `var` is read and written under `lock`, except `lastUsageSample`, which only
/// the single poller thread (`pollerRunning`) touches; the rest is `let`.
public final class SlurmExecutor: Executor, @unchecked Sendable {
    public var name: String { "slurm" }

    /// The exit code of `masknet stage exec` after it checkpointed on USR2 (EX_TEMPFAIL): resubmit, it resumes.
    public static let checkpointExitCode: Int32 = 75

    /// The Slurm commands.
    public let client: SlurmClient
    /// Site settings.
    public let profile: SlurmProfile
    /// The masknet the jobs run (must be on a filesystem the nodes share).
    public let executable: URL
    /// Per-stage `resources:` by base stage name.
    public let stageResources: [String: StageResources]
    /// Per-stage `retries:` by base stage name (overrides the profile's infrastructure retries).
    public let stageRetries: [String: Int]
    /// Where cheap stages run when `profile.localCheap` is on (nil: submit them too).
    public let local: (any Executor)?

    private let lock = NSCondition()
    /// Held while a tracked job's fields are read or written: by the poller for a whole round of updates, by
    /// `cancelRun` and the late-cancel path while they read the jobs they report. Taken before `lock`, never
    /// after it; recursive, since a job's callbacks may cancel the run from the poller's own thread.
    private let jobFields = NSRecursiveLock()
    private var tracked: [ObjectIdentifier: _TrackedJob] = [:]
    private var pollerRunning = false
    private var wakeUp = false
    private var cancelled = false
    private var jobName: String?
    private var runFolder: URL?
    private var probeError: String??
    private var cachedMaxArraySize: Int?
    private var digest: String?
    private var accounting: [[String: JSONValue]] = []
    private var _arraysSubmitted = 0
    private var _cancelCalls = 0
    private var startedAt = Date()
    private var lastUsageSample = Date.distantPast

    /// Creates an executor.
    public init(client: SlurmClient, profile: SlurmProfile, executable: URL, stageResources: [String: StageResources] = [:],
                stageRetries: [String: Int] = [:], local: (any Executor)? = nil) {
        self.client = client; self.profile = profile; self.executable = executable
        self.stageResources = stageResources; self.stageRetries = stageRetries; self.local = local
    }

    /// Job arrays submitted so far.
    public var arraysSubmitted: Int { lock.lock(); defer { lock.unlock() }; return _arraysSubmitted }
    /// `scancel` calls made to stop the run (one per interruption).
    public var cancelCalls: Int { lock.lock(); defer { lock.unlock() }; return _cancelCalls }
    /// The run-specific job name (`mn-<run id>`), known once the first batch arrived.
    public var runJobName: String? { lock.lock(); defer { lock.unlock() }; return jobName }

    public func execute(_ batch: [StageJob], store: ArtifactStore, callbacks: ExecutorCallbacks) async {
        guard !batch.isEmpty else { return }
        let cheap = batch.filter { profile.localCheap && local != nil && $0.kind.workload == .cheap }
        let remote = batch.filter { job in !cheap.contains { $0.stage == job.stage } }
        await withTaskGroup(of: Void.self) { group in
            if !cheap.isEmpty, let local {
                group.addTask { await local.execute(cheap, store: store, callbacks: callbacks) }
            }
            if !remote.isEmpty {
                group.addTask { await self.submitAndWait(remote, store: store, callbacks: callbacks) }
            }
        }
    }

    // MARK: - Submission

    private func submitAndWait(_ batch: [StageJob], store: ArtifactStore, callbacks: ExecutorCallbacks) async {
        registerRun(folder: batch[0].statusFile.deletingLastPathComponent().deletingLastPathComponent())
        let remaining = _Countdown(batch.count)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                remaining.onZero = { done.resume() }
                let finish: @Sendable (StageJob) -> Void = { job in
                    callbacks.finished(job)
                    remaining.decrement()
                }
                Thread.detachNewThread { self.submit(batch, store: store, finish: finish, report: callbacks.progress) }
            }
        } onCancel: {
            self.cancelRun()
        }
    }

    /// Names the run's jobs after the run folder (`mn-<run id>`) on the first batch.
    private func registerRun(folder: URL) {
        lock.lock()
        if jobName == nil {
            jobName = "mn-" + folder.lastPathComponent
            runFolder = folder
            startedAt = Date()
        }
        lock.unlock()
    }

    /// Submits a batch (probe first, once per run), grouped into arrays; registers each job for polling.
    private func submit(_ batch: [StageJob], store: ArtifactStore, finish: @escaping @Sendable (StageJob) -> Void,
                        report: @escaping @Sendable (StageJob, StageProgress) -> Void) {
        func failAll(_ jobs: [StageJob], _ message: String, interrupted: Bool = false) {
            for job in jobs {
                job.recordLoss(interrupted ? .interrupted : .failed, message: message, store: store)
                finish(job)
            }
        }
        if isCancelled { return failAll(batch, "the run was interrupted before the job was submitted", interrupted: true) }
        if let problem = probe(store: store) { return failAll(batch, problem) }
        let maxArray: Int
        do { maxArray = try maxArraySize() } catch { return failAll(batch, "\(error)") }

        // Cells of one stage with equal resources form one array; everything else is a plain job.
        var groups: [(key: String, jobs: [StageJob], resources: StageResources)] = []
        for job in batch {
            let resources = profile.resources(for: job.kind.workload, stage: stageResources[job.baseName] ?? StageResources())
            let groupKey = job.baseName + "\u{0}" + resources.sbatchOptions(gpuSpelling: profile.gpuSpelling).joined(separator: " ")
            if let i = groups.firstIndex(where: { $0.key == groupKey }) { groups[i].jobs.append(job) }
            else { groups.append((groupKey, [job], resources)) }
        }
        for group in groups {
            let plan = JobArrayPlan(count: group.jobs.count, maxArraySize: group.jobs.count > 1 ? maxArray : 1)
            for chunk in plan.chunks {
                let jobs = Array(group.jobs[chunk.offset ..< chunk.offset + chunk.count])
                if isCancelled { failAll(jobs, "the run was interrupted before the job was submitted", interrupted: true); continue }
                waitForQueueRoom(jobs.count)
                do {
                    try submitChunk(jobs, resources: group.resources, asArray: group.jobs.count > 1, store: store, finish: finish, report: report, attempt: 0)
                } catch {
                    failAll(jobs, "\(error)")
                }
            }
        }
    }

    /// Submits `jobs` as one array (or one plain job) and starts tracking them.
    private func submitChunk(_ jobs: [StageJob], resources: StageResources, asArray: Bool, store: ArtifactStore,
                             finish: @escaping @Sendable (StageJob) -> Void, report: @escaping @Sendable (StageJob, StageProgress) -> Void,
                             attempt: Int) throws {
        let folder = jobs[0].statusFile.deletingLastPathComponent().deletingLastPathComponent()
        let slurmFolder = folder.appendingPathComponent("slurm")
        let baseFolder = slurmFolder.appendingPathComponent(_folderName(jobs[0].baseName))
        try FileManager.default.createDirectory(at: baseFolder, withIntermediateDirectories: true)
        let cells = jobs.map { job in
            BatchCell(key: job.key, stage: job.stage, statusFile: job.statusFile.path,
                      logFolder: slurmFolder.appendingPathComponent(_folderName(job.stage)).path, force: job.force,
                      progressFile: job.progressFile.url.path)
        }
        for cell in cells { try FileManager.default.createDirectory(atPath: cell.logFolder, withIntermediateDirectories: true) }
        let script = BatchScript(executable: executable.path, executableDigest: try executableDigest(), store: store.root.path,
                                 cells: cells, offset: 0, arrayLogFolder: asArray ? baseFolder.path : nil)
        var options = ["--job-name=\(runJobName ?? "mn")", "--no-requeue"] + profile.signalOptions
            + ["--chdir=\(FileManager.default.currentDirectoryPath)", "--export=ALL"]
        if asArray {
            options.append(JobArrayPlan.Chunk(offset: 0, count: jobs.count).arrayOption(parallelism: profile.arrayParallelism))
            options.append("--output=\(baseFolder.path)/%A_%a.log")
        } else {
            options.append("--output=\(cells[0].logFolder)/%j.log")
        }
        options += resources.sbatchOptions(gpuSpelling: profile.gpuSpelling)
        let id = try client.submit(script: script.text, options: options)
        let now = Date()
        lock.lock()
        if asArray { _arraysSubmitted += 1 }
        for (index, job) in jobs.enumerated() {
            let t = _TrackedJob(job: job, store: store, finish: finish, report: report, resources: resources)
            t.submittedID = id
            t.arrayIndex = asArray ? index : nil
            t.attempt = attempt
            t.submittedAt = now
            t.logFile = asArray ? baseFolder.appendingPathComponent("\(id)_\(index).log")
                                : URL(fileURLWithPath: cells[0].logFolder).appendingPathComponent("\(id).log")
            tracked[ObjectIdentifier(t)] = t
        }
        let lateForCancel = cancelled
        wakeUp = true
        let startPoller = !pollerRunning
        pollerRunning = true
        lock.broadcast()
        lock.unlock()
        if startPoller { Thread.detachNewThread { self.pollLoop() } }
        if lateForCancel {
            // Submitted while the run was being interrupted: cancel it too (a second scancel, by name).
            try? client.cancelAll(named: runJobName ?? "mn")
            lock.lock()
            let stale = tracked.values.filter { $0.submittedID == id }
            for t in stale { tracked.removeValue(forKey: ObjectIdentifier(t)) }
            lock.unlock()
            for t in stale {
                let id = jobFields.withLock { t.displayID }
                t.job.recordLoss(.interrupted, message: "interrupted: Slurm job \(id) cancelled", store: store)
                t.finish(t.job)
            }
        }
    }

    /// Waits until this user's jobs in the queue leave room for `count` more (site `MaxSubmitJobs`).
    private func waitForQueueRoom(_ count: Int) {
        var pause = profile.poll.initialSeconds
        while !isCancelled {
            guard let queued = try? client.queuedJobCount() else { return }  // Let sbatch give the real error.
            if queued + count <= profile.maxJobsInQueue || queued == 0 { return }
            usleep(useconds_t(pause * 1_000_000))
            pause = min(profile.poll.maxSeconds, pause * profile.poll.growth)
        }
    }

    private var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }

    private func maxArraySize() throws -> Int {
        lock.lock()
        if let m = cachedMaxArraySize { lock.unlock(); return m }
        lock.unlock()
        let m = try client.maxArraySize()
        lock.lock(); cachedMaxArraySize = m; lock.unlock()
        return m
    }

    private func executableDigest() throws -> String {
        lock.lock()
        if let d = digest { lock.unlock(); return d }
        lock.unlock()
        guard let data = FileManager.default.contents(atPath: executable.path) else {
            throw SlurmError(.unavailable, "cannot read the masknet executable \(executable.path)")
        }
        let d = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        lock.lock(); digest = d; lock.unlock()
        return d
    }

    // MARK: - Shared-filesystem probe

    /// Once per run: a tiny job writes a file into the store with the node's view of the masknet executable;
    /// the driver must see it, with the driver's digest. Returns the problem, or nil when all is well.
    private func probe(store: ArtifactStore) -> String? {
        lock.lock()
        if let known = probeError { lock.unlock(); return known }
        lock.unlock()
        let result = _runProbe(store: store)
        lock.lock(); probeError = .some(result); lock.unlock()
        return result
    }

    private func _runProbe(store: ArtifactStore) -> String? {
        let expected: String
        do { expected = try executableDigest() } catch { return "\(error)" }
        let probeDir = store.root.appendingPathComponent("tmp")
        try? FileManager.default.createDirectory(at: probeDir, withIntermediateDirectories: true)
        let probeFile = probeDir.appendingPathComponent("slurm-probe-\(UUID().uuidString.prefix(8)).txt")
        defer { unlink(probeFile.path) }
        let script = """
            #!/bin/bash
            d=$(sha256sum \(BatchScript.quote(executable.path)) 2>/dev/null | cut -d' ' -f1)
            echo "$(hostname) ${d:-missing}" > \(BatchScript.quote(probeFile.path)).tmp && mv \(BatchScript.quote(probeFile.path)).tmp \(BatchScript.quote(probeFile.path))

            """
        let id: String
        do {
            id = try client.submit(script: script, options: ["--job-name=\(runJobName ?? "mn")", "--no-requeue", "--output=/dev/null",
                                                             "--time=1", "--mem=64M", "--cpus-per-task=1"]
                                   + (profile.defaults.partition.map { ["--partition=\($0)"] } ?? [])
                                   + (profile.defaults.account.map { ["--account=\($0)"] } ?? []))
        } catch {
            return "cannot submit the shared-filesystem probe job: \(error)"
        }
        var quiet = 0
        var endedAt: Date?
        while !isCancelled {
            if let text = try? String(contentsOf: probeFile, encoding: .utf8) {
                let parts = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                if parts.count == 2, parts[1] == expected { return nil }
                return "the probe job \(id) on \(parts.first ?? "?") sees \(executable.path) with SHA-256 \(parts.last ?? "?"), not this masknet's \(expected); put masknet on a filesystem the nodes share"
            }
            let rows = (try? client.jobStates(named: runJobName ?? "mn")) ?? []
            let row = rows.first { $0.jobID == id }
            if let row, row.state.isQueued, SlurmJobState.isPermanentLimit(reason: row.reason) {
                _ = try? client.commandLine.run("scancel", [id])
                return "Slurm will never start the shared-filesystem probe job \(id) (1 minute, 64 MB, 1 CPU): reason \(row.reason)"
                    + (profile.defaults.partition.map { " in partition '\($0)'" } ?? "") + "; check the profile's partition, qos and account"
            }
            if row == nil || row!.state.isTerminal {
                _refreshDirectory(probeDir)
                if endedAt == nil { endedAt = Date() }
                if Date().timeIntervalSince(endedAt!) > profile.lostJobGraceSeconds {
                    return "the probe job \(id) ended (\(row?.state.rawValue ?? "gone from the queue")) but its file \(probeFile.path) never appeared here: the store \(store.root.path) must be on a filesystem that the compute nodes share"
                }
                usleep(200_000)
                continue
            }
            usleep(useconds_t(profile.poll.interval(afterQuietPolls: quiet) * 1_000_000))
            quiet += 1
        }
        return "the run was interrupted while probing the shared filesystem"
    }

    // MARK: - Polling

    /// The single poller of the run: one status query per round for every job of the run.
    private func pollLoop() {
        var quietPolls = 0
        while true {
            lock.lock()
            if tracked.isEmpty { pollerRunning = false; lock.unlock(); return }
            let interval = wakeUp ? profile.poll.initialSeconds : profile.poll.interval(afterQuietPolls: quietPolls)
            if wakeUp { quietPolls = 0; wakeUp = false }
            _ = lock.wait(until: Date().addingTimeInterval(interval))
            if tracked.isEmpty { pollerRunning = false; lock.unlock(); return }
            let jobs = Array(tracked.values)
            let name = jobName ?? "mn"
            lock.unlock()
            let rows: [SlurmJobStatus]
            do { rows = try client.jobStates(named: name) } catch {
                quietPolls += 1  // A busy controller: ask less often, never give up on the jobs.
                continue
            }
            // `sstat` runs outside the lock, so cancellation's reports never wait for a slow controller.
            let sampled = jobFields.withLock { memorySampleTargets(jobs, rows: rows) }
            let peaks = sampled.isEmpty ? [:] : client.peakMemory(ofJobs: sampled)
            let changed = jobFields.withLock {
                recordPeakMemory(peaks, of: jobs, rows: rows)
                var changed = false
                for t in jobs where examine(t, rows: rows) { changed = true }
                return changed
            }
            quietPolls = changed ? 0 : quietPolls + 1
        }
    }

    /// Without an accounting database Slurm forgets a job's memory when it ends, so the poller samples the
    /// running jobs' MaxRSS with one `sstat` for all of them, at most every `usageSampleSeconds`: these are
    /// the jobs to sample now (none between samples). Called under `jobFields`.
    private func memorySampleTargets(_ jobs: [_TrackedJob], rows: [SlurmJobStatus]) -> [String] {
        guard Date().timeIntervalSince(lastUsageSample) >= min(SlurmExecutor.usageSampleSeconds, profile.poll.maxSeconds) else { return [] }
        let running = jobs.compactMap { t in t.row(in: rows).flatMap { $0.state.isRunning ? $0.jobID : nil } }
        if !running.isEmpty { lastUsageSample = Date() }
        return Array(Set(running)).sorted()
    }

    /// Keeps each job's highest sampled MaxRSS. Called under `jobFields`.
    private func recordPeakMemory(_ peaks: [String: Int], of jobs: [_TrackedJob], rows: [SlurmJobStatus]) {
        for t in jobs {
            guard let id = t.row(in: rows)?.jobID, let peak = peaks[id] else { continue }
            t.maxRSSBytes = max(t.maxRSSBytes ?? 0, peak)
        }
    }

    /// Seconds a job may stay pending for `PartitionConfig` before it is taken as a request no node can meet.
    public static let partitionConfigGraceSeconds = 20.0

    /// Seconds between memory samples of running jobs (capped by the poll's maximum interval).
    public static let usageSampleSeconds = 5.0

    /// Updates one job from the store and the query's rows; returns whether anything changed.
    private func examine(_ t: _TrackedJob, rows: [SlurmJobStatus]) -> Bool {
        let job = t.job
        let row = t.row(in: rows)
        if let row { t.absorbTimes(row) }
        // Truth lives in the store.
        if FileManager.default.fileExists(atPath: job.statusFile.path) {
            // A stage that says "interrupted" when we interrupted nothing was stopped by Slurm (scancel, time
            // limit, preemption) or asked to checkpoint (USR2): Slurm's verdict decides, once the job ended.
            // So it does for a stage that failed while Slurm was ending its job: the SIGTERM of a time limit or
            // scancel reaches the stage's child processes too, and one may die of it (and the stage report a
            // failure) before `stage exec` sees its own signal.
            let status = try? StageExecStatus.read(job.statusFile)
            if !isCancelled, let status, status.outcome == .interrupted || status.outcome == .failed {
                if let row, !row.state.isTerminal { return false }
                let endedBySlurm = row.map { $0.state != .completed && $0.state != .failed } ?? false
                if status.outcome == .interrupted || endedBySlurm {
                    t.stageSaidInterrupted = status
                    if let row { t.lastState = row.state; t.reason = row.reason; t.jobID = row.jobID; if !row.nodes.isEmpty { t.node = row.nodes } }
                    lost(t)
                    return true
                }
            }
            // The stage has spoken but its batch script may still be exiting: wait (a grace period at most) for
            // Slurm's final state, so the accounting never records a finished job as RUNNING.
            if let row, !row.state.isTerminal {
                let since = t.stageEndedSeenAt ?? Date()
                t.stageEndedSeenAt = since
                if Date().timeIntervalSince(since) < profile.lostJobGraceSeconds { return false }
            }
            complete(t, state: row?.state)
            return true
        }
        if let row, row.state.isQueued, SlurmJobState.isPermanentLimit(reason: row.reason) {
            refuseOverLimit(t, row: row)
            return true
        }
        // `PartitionConfig` passes while Slurm checks a new job; one that stays there asks for more than the
        // partition's nodes have (e.g. more CPUs than any node), and would wait forever.
        if let row, row.state.isQueued, row.reason == "PartitionConfig" {
            let since = t.partitionConfigSince ?? Date()
            t.partitionConfigSince = since
            if Date().timeIntervalSince(since) > SlurmExecutor.partitionConfigGraceSeconds { refuseOverLimit(t, row: row); return true }
        } else {
            t.partitionConfigSince = nil
        }
        if let row, !row.state.isTerminal {
            var changed = false
            if row.state != t.lastState { t.lastState = row.state; changed = true }
            if row.state.isRunning && t.startedAt == nil { t.startedAt = Date(); t.node = row.nodes; changed = true }
            t.jobID = row.jobID
            t.endedSeenAt = nil
            // The stage's own progress (epoch e/E, ETA by its clock) from its progress file in the run folder.
            var inside = ""
            if row.state.isRunning, let reading = job.progressFile.read(), reading.updated != t.progressSeen {
                t.progressSeen = reading.updated
                inside = ": " + reading.summary
                changed = true
            }
            if changed {
                t.report(job, StageProgress(message: row.state.isRunning ? "running on \(row.nodes) (Slurm job \(t.displayID))\(inside)"
                                                                        : "\(row.state.rawValue.lowercased()) (\(row.reason), Slurm job \(t.displayID))"))
            }
            return changed
        }
        // Slurm says the job ended (or no longer knows it): give the shared filesystem a bounded time.
        if let row { t.lastState = row.state; if !row.nodes.isEmpty { t.node = row.nodes }; t.reason = row.reason; t.jobID = row.jobID }
        if row == nil && Date().timeIntervalSince(t.submittedAt) < 5 { return false }  // Not listed yet.
        let now = Date()
        if t.endedSeenAt == nil { t.endedSeenAt = now; return true }
        _refreshDirectory(job.statusFile.deletingLastPathComponent())
        if t.store.actionRecord(job.key) != nil { complete(t, state: t.lastState); return true }
        guard now.timeIntervalSince(t.endedSeenAt!) >= profile.lostJobGraceSeconds else { return false }
        lost(t)
        return true
    }

    /// Slurm holds the job for a limit that will never clear: cancel it and fail the stage naming the limit
    /// (the partition's value beside the job's request), instead of waiting forever.
    private func refuseOverLimit(_ t: _TrackedJob, row: SlurmJobStatus) {
        let target = t.arrayIndex.map { "\(t.submittedID)_\($0)" } ?? t.submittedID
        let job = try? client.jobDetails(row.jobID == t.submittedID ? target : row.jobID)
        _ = try? client.commandLine.run("scancel", [target])
        var message = "Slurm will never start job \(t.displayID) for stage \(t.job.stage): reason \(row.reason)"
        if let partition = job?["Partition"] {
            let limits = (try? client.commandLine.run("scontrol", ["show", "partition", "-o", partition]))
                .flatMap { $0.succeeded ? SlurmClient.parseKeyValues($0.output) : nil } ?? [:]
            switch row.reason {
            case "PartitionTimeLimit":
                message += "; partition '\(partition)' allows MaxTime=\(limits["MaxTime"] ?? "?") but the job asks TimeLimit=\(job?["TimeLimit"] ?? "?")"
            case "PartitionConfig":
                message += "; the job asks \(job?["TRES"] ?? "?") but partition '\(partition)' has \(limits["TRES"] ?? "?") in all"
                    + " (MaxCPUsPerNode=\(limits["MaxCPUsPerNode"] ?? "?"), MaxMemPerNode=\(limits["MaxMemPerNode"] ?? "?"))"
            case "PartitionNodeLimit":
                message += "; partition '\(partition)' allows MinNodes=\(limits["MinNodes"] ?? "?") MaxNodes=\(limits["MaxNodes"] ?? "?") but the job asks NumNodes=\(job?["NumNodes"] ?? "?")"
            default:
                message += " (partition '\(partition)', QOS \(job?["QOS"] ?? "?"), account \(job?["Account"] ?? "?"))"
            }
        }
        message += ". The job was cancelled before it started; ask for less (resources: in the pipeline or the profile) or use another partition/QOS"
        t.lastState = row.state
        t.reason = row.reason
        t.job.recordLoss(.failed, message: message, store: t.store)
        complete(t, state: SlurmJobState(rawValue: "CANCELLED"))
    }

    /// The job's status file (or record) is in the store: report it and stop tracking.
    private func complete(_ t: _TrackedJob, state: SlurmJobState?) {
        lock.lock()
        let removed = tracked.removeValue(forKey: ObjectIdentifier(t)) != nil
        if removed { accounting.append(t.accountingEntry(finalState: state ?? t.lastState)) }
        let folder = runFolder
        lock.unlock()
        guard removed else { return }
        t.job.recordPlacement(t.placement(runFolder: folder))
        writeAccounting()  // Before reporting: the last report may let the driver exit.
        t.finish(t.job)
    }

    /// Slurm ended the job and the store has no word from it: resubmit (infrastructure failures, time-outs)
    /// or fail the stage with Slurm's state, reason, node and log tail.
    private func lost(_ t: _TrackedJob) {
        var state = t.lastState ?? SlurmJobState(rawValue: "UNKNOWN")
        var reason = t.reason ?? ""
        let details = t.jobID.flatMap { try? client.jobDetails($0) }
        if let details {
            if let s = details["JobState"] { state = SlurmJobState(rawValue: s) }
            if let r = details["Reason"] { reason = r }
            if let n = details["NodeList"], n != "(null)" { t.node = n }
        }
        let tail = _logTail(t.logFile, lines: 20)
        let exitCode = details?["ExitCode"] ?? ""
        // USR2 (--signal=B:USR2@N, or sent by hand): the stage checkpointed and exited with the checkpoint code,
        // or died of the signal itself. Either way the job is resumable, like a time-out.
        let checkpointed = t.stageSaidInterrupted?.exitCode == SlurmExecutor.checkpointExitCode
            || exitCode.hasPrefix("\(SlurmExecutor.checkpointExitCode):") || exitCode.hasSuffix(":\(SIGUSR2)")
        // Without cgroups Slurm kills a job over its --mem by sampling and calls it FAILED; the step's own
        // message in the log is the evidence.
        if state == .failed || state.rawValue == "UNKNOWN",
           tail.contains("Exceeded job memory limit") || tail.contains("exceeded memory limit") || tail.contains("oom-kill") {
            state = .outOfMemory
        }
        let retries = stageRetries[t.job.baseName] ?? profile.infrastructureRetries
        if (state.isInfrastructureFailure || state == .timeout || checkpointed) && t.attempt < retries && !isCancelled {
            unlink(t.job.statusFile.path)  // The resubmitted job writes the stage's next word.
            lock.lock()
            tracked.removeValue(forKey: ObjectIdentifier(t))
            accounting.append(t.accountingEntry(finalState: state))
            lock.unlock()
            do {
                t.report(t.job, StageProgress(message: "Slurm job \(t.displayID) ended \(state); resubmitting (attempt \(t.attempt + 2))"))
                try submitChunk([t.job], resources: t.resources, asArray: false, store: t.store, finish: t.finish, report: t.report, attempt: t.attempt + 1)
                return
            } catch {
                t.job.recordLoss(.failed, message: "Slurm job \(t.displayID) ended \(state) and could not be resubmitted: \(error)", store: t.store)
                t.finish(t.job)
                return
            }
        }
        if t.stageSaidInterrupted != nil { unlink(t.job.statusFile.path) }  // Replaced by Slurm's account below.
        var message = "Slurm job \(t.displayID) ended \(state)"
        if checkpointed { message += " after checkpointing on USR2" }
        if !reason.isEmpty && reason != "None" { message += " (reason: \(reason))" }
        if let node = t.node, !node.isEmpty { message += " on node \(node)" }
        if let said = t.stageSaidInterrupted {
            message += "; the stage reported: \(said.message)"
        } else {
            message += " without a status file or a published result (waited \(Int(profile.lostJobGraceSeconds)) s for the shared filesystem)"
        }
        if t.attempt > 0 { message += " after \(t.attempt) resubmission(s)" }
        message += "; log \(t.logFile.path)"
        if !tail.isEmpty { message += ", last lines:\n" + tail }
        t.job.recordLoss(isCancelled ? .interrupted : .failed, message: message, store: t.store)
        t.lastState = state
        complete(t, state: state)
    }

    // MARK: - Cancellation

    /// Cancels every job of the run with one `scancel` and reports each tracked job as interrupted.
    public func cancelRun() {
        lock.lock()
        let already = cancelled
        cancelled = true
        let name = jobName
        let jobs = Array(tracked.values)
        tracked.removeAll()
        if !already && name != nil { _cancelCalls += 1 }
        lock.broadcast()
        lock.unlock()
        guard !already else { return }
        if let name {
            do {
                try client.cancelAll(named: name)
                FileHandle.standardError.write(Data("slurm: cancelled every job of the run with one `scancel --name=\(name)` (\(jobs.count) tracked)\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("slurm: \(error); cancel the run's jobs by hand: scancel --name=\(name)\n".utf8))
            }
        }
        let (entries, ids) = jobFields.withLock {
            (jobs.map { $0.accountingEntry(finalState: .cancelled) }, jobs.map(\.displayID))
        }
        lock.lock()
        accounting.append(contentsOf: entries)
        lock.unlock()
        writeAccounting()
        for (t, id) in zip(jobs, ids) {
            t.job.recordLoss(.interrupted, message: "interrupted: Slurm job \(id) cancelled with `scancel --name=\(name ?? "?")`", store: t.store)
            t.finish(t.job)
        }
    }

    // MARK: - Accounting

    /// Writes `runs/<id>/slurm/accounting.json`: status queries, submissions, and per job its id, node,
    /// queue wait, run time and final state.
    private func writeAccounting() {
        lock.lock()
        guard let folder = runFolder else { lock.unlock(); return }
        let entries = accounting
        let arrays = _arraysSubmitted
        let cancels = _cancelCalls
        let elapsed = Date().timeIntervalSince(startedAt)
        lock.unlock()
        let doc: JSONValue = .object([
            "job_name": .string(runJobName ?? ""),
            "status_queries": .integer(client.statusQueries),
            "queue_count_queries": .integer(client.queueCountQueries),
            "usage_queries": .integer(client.usageQueries),
            "submissions": .integer(client.submissions),
            "submit_retries": .integer(client.submitRetries),
            "arrays": .integer(arrays),
            "scancel_calls": .integer(cancels),
            "elapsed_seconds": .number(elapsed),
            "poll": .object(["initial_seconds": .number(profile.poll.initialSeconds), "max_seconds": .number(profile.poll.maxSeconds),
                             "growth": .number(profile.poll.growth)]),
            "jobs": .array(entries.map { .object($0) }),
        ])
        let url = folder.appendingPathComponent("slurm/accounting.json")
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(doc.prettyText.utf8).write(to: url, options: .atomic)
    }
}

/// One stage job submitted to Slurm and not yet reported.
///
/// Unchecked Sendable: its `var`s are set by the submit thread before the job is tracked, and afterwards read
/// and written only under the executor's `jobFields` lock (the poller's rounds, cancellation's reports).
final class _TrackedJob: @unchecked Sendable {
    let job: StageJob
    let store: ArtifactStore
    let finish: @Sendable (StageJob) -> Void
    let report: @Sendable (StageJob, StageProgress) -> Void
    let resources: StageResources
    var submittedID = ""
    var arrayIndex: Int?
    var jobID: String?
    var attempt = 0
    var submittedAt = Date()
    var startedAt: Date?
    var endedSeenAt: Date?
    /// Since when the stage's status file has been there while Slurm still lists the job as not ended.
    var stageEndedSeenAt: Date?
    var node: String?
    var reason: String?
    var lastState: SlurmJobState?
    var stageSaidInterrupted: StageExecStatus?
    var logFile = URL(fileURLWithPath: "/dev/null")
    /// Slurm's own submit and start times and run time (from the status query's rows).
    var slurmSubmit: Date?
    var slurmStart: Date?
    var slurmElapsed: Double?
    /// The largest MaxRSS `sstat` reported while the job ran.
    var maxRSSBytes: Int?
    /// Since when Slurm has held the job for `PartitionConfig`.
    var partitionConfigSince: Date?
    /// The time of the last progress report read from the stage's progress file.
    var progressSeen: Date?

    init(job: StageJob, store: ArtifactStore, finish: @escaping @Sendable (StageJob) -> Void,
         report: @escaping @Sendable (StageJob, StageProgress) -> Void, resources: StageResources) {
        self.job = job; self.store = store; self.finish = finish; self.report = report; self.resources = resources
    }

    /// This job's row: a plain job by id; an array task by array id and index, or else the array's collapsed
    /// record (tasks that never started, e.g. cancelled while pending, stay one row without an index).
    func row(in rows: [SlurmJobStatus]) -> SlurmJobStatus? {
        guard let arrayIndex else { return rows.first { $0.jobID == submittedID } }
        return rows.first { $0.arrayJobID == submittedID && $0.arrayIndex == arrayIndex }
            ?? rows.first { $0.arrayJobID == submittedID && $0.arrayIndex == nil }
    }

    /// `123` or `120_2 (job 123)`.
    var displayID: String {
        guard let arrayIndex else { return submittedID }
        return "\(submittedID)_\(arrayIndex)" + (jobID.map { $0 != submittedID ? " (job \($0))" : "" } ?? "")
    }

    /// Takes Slurm's times from a status row (start only once the job started: while pending it is an estimate).
    func absorbTimes(_ row: SlurmJobStatus) {
        if let submit = row.submitTime { slurmSubmit = submit }
        guard !row.state.isQueued else { return }
        if let start = row.startTime { slurmStart = start }
        if let used = row.timeUsedSeconds { slurmElapsed = used }
        if !row.nodes.isEmpty { node = row.nodes }
    }

    /// Queue wait by Slurm's clock when known, else as the driver's polls saw it.
    var queueWaitSeconds: Double? {
        if let slurmStart, let slurmSubmit { return max(0, slurmStart.timeIntervalSince(slurmSubmit)) }
        return startedAt.map { $0.timeIntervalSince(submittedAt) }
    }

    /// The run record's account of this job.
    func placement(runFolder: URL?) -> StagePlacement {
        let times = slurmStart != nil ? "squeue %V/%S/%M" : "the driver's polls"
        var log = logFile.path
        if let runFolder, log.hasPrefix(runFolder.path + "/") { log = String(log.dropFirst(runFolder.path.count + 1)) }
        return StagePlacement(executor: "slurm", job: displayID, node: node, queueWaitSeconds: queueWaitSeconds, elapsedSeconds: slurmElapsed,
                              maxRSSBytes: maxRSSBytes, source: "times from \(times), MaxRSS sampled by sstat while running",
                              attempts: attempt + 1, log: log)
    }

    func accountingEntry(finalState: SlurmJobState?) -> [String: JSONValue] {
        var e: [String: JSONValue] = [
            "stage": .string(job.stage), "key": .string(job.key), "job": .string(displayID), "attempt": .integer(attempt),
            "state": .string(finalState?.rawValue ?? "UNKNOWN"), "node": .string(node ?? ""), "log": .string(logFile.path),
        ]
        if let startedAt {
            e["queue_wait_seconds"] = .number(queueWaitSeconds ?? startedAt.timeIntervalSince(submittedAt))
            e["run_seconds"] = .number(Date().timeIntervalSince(startedAt))
        }
        if let slurmElapsed { e["slurm_elapsed_seconds"] = .number(slurmElapsed) }
        if let maxRSSBytes { e["max_rss_bytes"] = .integer(maxRSSBytes) }
        return e
    }
}

/// Counts down to zero once, then calls `onZero`.
/// Unchecked Sendable: `count` is used only under `lock`; `onZero` is set once before any `decrement()`,
/// then read and cleared under `lock`.
final class _Countdown: @unchecked Sendable {
    private let lock = NSLock()
    private var count: Int
    var onZero: (() -> Void)?
    init(_ count: Int) { self.count = count }
    func decrement() {
        lock.lock()
        count -= 1
        let fire = count == 0 ? onZero : nil
        if count == 0 { onZero = nil }
        lock.unlock()
        fire?()
    }
}

