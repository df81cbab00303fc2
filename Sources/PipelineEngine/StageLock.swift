import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock per stage key that works across the nodes sharing a store: a lease file
/// `locks/<key>.lock` naming its holder (host, pid, Slurm job id when inside one) with an expiry that a
/// heartbeat thread renews while the stage computes.
///
/// A `flock` is not enough here: NFS clients on other nodes may not see it, and a host-and-pid note cannot
/// be checked from another node. So a waiter breaks a lease only when its heartbeat is stale AND the
/// holder is known to be gone: its scheduler job is no longer running (asked through
/// `StageLockLiveness`), or, on the same host, its pid is dead (`kill(pid, 0)`). A dead pid on the same
/// host is proof by itself that the heartbeat has stopped, so a local run killed with SIGKILL never
/// blocks the next one. A holder on another host without a job id cannot be asked: its lease is broken
/// once the heartbeat has been stale for a further `StageLock.orphanGraceLeases` lease lengths.
///
/// Creation is `link(2)` of a fully written temporary file (atomic and exclusive on NFS too); breaking
/// renames the lease aside first, so of two waiters that judge it dead only one breaks it.
///
/// Unchecked Sendable: `released` is read and written under `state`; `thread` is set once, before
/// `tryAcquire` returns the lock; `url` and `lease` are `let`s.
public final class StageLock: @unchecked Sendable {
    /// The lease file.
    public let url: URL
    private let lease: Lease
    private let heartbeat = DispatchSemaphore(value: 0)
    private let state = NSLock()
    private var released = false
    private var thread: Thread?

    /// Seconds a lease stays valid without renewal (`MASKNET_LEASE_SECONDS`, default 60); renewed every quarter of it.
    public static var leaseSeconds: Double {
        Double(ProcessInfo.processInfo.environment["MASKNET_LEASE_SECONDS"] ?? "").flatMap { $0 > 0 ? $0 : nil } ?? 60
    }
    /// Lease lengths a stale lease of a holder that cannot be asked (another host, no job) is still waited on.
    public static let orphanGraceLeases = 2.0

    private init(url: URL, lease: Lease) {
        self.url = url; self.lease = lease
    }

    /// What a lease file holds.
    struct Lease: Codable, Equatable {
        var host: String
        var pid: Int32
        /// The Slurm job (`SLURM_JOB_ID`) the holder runs in, if any.
        var job: String?
        /// Random, to tell this holder's lease from a later one with the same pid.
        var token: String
        var since: String
        /// Seconds since 1970 after which the lease is stale unless renewed.
        var expires: Double

        static func mine(seconds: Double) -> Lease {
            Lease(host: localHostName(), pid: getpid(), job: ProcessInfo.processInfo.environment["SLURM_JOB_ID"].flatMap { $0.isEmpty ? nil : $0 },
                  token: UUID().uuidString, since: _now(), expires: Date().timeIntervalSince1970 + seconds)
        }

        var description: String {
            let age = Date().timeIntervalSince1970 - expires
            let freshness = age > 0 ? "heartbeat stale for \(Int(age)) s" : "heartbeat live"
            return "pid \(pid) on \(host)\(job.map { " (Slurm job \($0))" } ?? "") since \(since), \(freshness)"
        }
    }

    /// Why a lease may or may not be broken.
    enum Verdict: Equatable { case held, broken }

    static func read(_ url: URL) -> Lease? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return try? JSONDecoder().decode(Lease.self, from: data)
    }

    /// Whether the lease in the file may be broken now. An unreadable lease (an old masknet's lock note,
    /// or a file cut short) counts as stale after one lease length since it was last written.
    static func verdict(of url: URL, lease: Lease?, now: Date = Date()) -> Verdict {
        guard let lease else {
            let written = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? nil
            return now.timeIntervalSince(written ?? .distantPast) > leaseSeconds ? .broken : .held
        }
        let sameHost = lease.host == localHostName()
        if sameHost && !processIsAlive(lease.pid) { return .broken }
        let stale = now.timeIntervalSince1970 - lease.expires
        guard stale > 0 else { return .held }
        if let job = lease.job, let running = StageLockLiveness.jobIsRunning(job) { return running ? .held : .broken }
        if sameHost { return .held }  // Its pid is alive (checked above).
        return stale > orphanGraceLeases * leaseSeconds ? .broken : .held
    }

    static func processIsAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Who holds the lock according to the file.
    public static func holder(of url: URL) -> String? {
        if let lease = read(url) { return lease.description }
        guard let s = try? String(contentsOf: url, encoding: .utf8), !s.isEmpty else { return nil }
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether some live holder has the lock (reads only).
    public static func isHeld(_ url: URL) -> Bool {
        guard FileManager.default.fileExists(atPath: url.path) else { return false }
        return verdict(of: url, lease: read(url)) == .held
    }

    /// Tries once (breaking a dead holder's lease); returns nil if a live holder (another process, node or
    /// thread) has the lock. On success a heartbeat thread renews the lease until `release()`.
    public static func tryAcquire(_ url: URL) throws -> StageLock? {
        let seconds = leaseSeconds
        for _ in 0..<3 {
            let lease = Lease.mine(seconds: seconds)
            if try create(url, lease) {
                let lock = StageLock(url: url, lease: lease)
                lock.startHeartbeat(every: seconds / 4)
                return lock
            }
            let current = read(url)
            guard verdict(of: url, lease: current) == .broken else { return nil }
            breakLease(url, judged: current)
        }
        return nil
    }

    /// Writes `lease` to a private temporary file and links it to `url`: false if a lease exists.
    private static func create(_ url: URL, _ lease: Lease) throws -> Bool {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(lease.token)")
        try JSONEncoder().encode(lease).write(to: temporary)
        defer { unlink(temporary.path) }
        if link(temporary.path, url.path) == 0 { return true }
        if errno == EEXIST { return false }
        throw EngineError("cannot create the lock \(url.path): \(String(cString: strerror(errno)))")
    }

    /// Moves the lease aside (one waiter wins the rename) and removes it if it is still the one judged
    /// dead; a lease renewed in the meantime is put back.
    private static func breakLease(_ url: URL, judged: Lease?) {
        let aside = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).broken.\(UUID().uuidString)")
        guard rename(url.path, aside.path) == 0 else { return }
        defer { unlink(aside.path) }
        if read(aside) != judged { _ = link(aside.path, url.path) }
    }

    /// Waits for the lock, calling `waiting` once with the holder's description; gives up when `cancelled()`.
    public static func acquire(_ url: URL, cancelled: () -> Bool, waiting: (String) -> Void) throws -> StageLock? {
        var told = false
        var pause: useconds_t = 20_000
        while true {
            if let l = try tryAcquire(url) { return l }
            if cancelled() { return nil }
            if !told { waiting(holder(of: url) ?? "another process"); told = true }
            usleep(pause)
            pause = min(pause * 2, 500_000)  // A shared filesystem need not be read 50 times a second.
        }
    }

    private func startHeartbeat(every interval: Double) {
        let thread = Thread { [self] in
            while heartbeat.wait(timeout: .now() + interval) == .timedOut {
                state.lock()
                let done = released
                state.unlock()
                if done { return }
                renew()
            }
        }
        thread.name = "masknet lease \(url.lastPathComponent)"
        self.thread = thread
        thread.start()
    }

    /// Extends the expiry by writing a new lease file and renaming it over the old one, only while the
    /// file is still this holder's (a waiter that wrongly broke it has its own lease now: say so).
    private func renew() {
        guard let current = StageLock.read(url), current.token == lease.token else {
            FileHandle.standardError.write(Data("masknet: warning: the lease \(url.path) was taken over while its stage ran (heartbeat too slow?)\n".utf8))
            return
        }
        var renewed = lease
        renewed.expires = Date().timeIntervalSince1970 + StageLock.leaseSeconds
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(lease.token).renew")
        do {
            try JSONEncoder().encode(renewed).write(to: temporary)
            if rename(temporary.path, url.path) != 0 { unlink(temporary.path) }
        } catch {
            FileHandle.standardError.write(Data("masknet: warning: cannot renew the lease \(url.path): \(error)\n".utf8))
        }
    }

    /// Stops the heartbeat and removes the lease if it is still this holder's.
    public func release() {
        state.lock()
        let already = released
        released = true
        state.unlock()
        guard !already else { return }
        heartbeat.signal()
        if StageLock.read(url)?.token == lease.token { unlink(url.path) }
    }

    deinit { release() }
}

extension ArtifactStore {
    /// Lock files currently held, with their holders (for `status`); reads only.
    public func heldLocks() -> [(key: String, holder: String)] {
        let locks = dir("locks")
        var out: [(String, String)] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: locks.path)) ?? []).sorted()
        where name.hasSuffix(".lock") && name != "store.lock" && !name.hasPrefix(".") {
            let url = locks.appendingPathComponent(name)
            guard StageLock.isHeld(url) else { continue }
            out.append((String(name.dropLast(5)), StageLock.holder(of: url) ?? "unknown"))
        }
        return out
    }
}
