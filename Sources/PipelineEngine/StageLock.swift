import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock per stage key, held with `flock` on `locks/<key>.lock`.
///
/// The kernel releases a `flock` when its holder dies (even by SIGKILL), so a lock left by a dead
/// process is broken automatically: no `--unlock`. The file also names the holder (pid, host, time) so
/// waiters can say whom they wait for. After locking, the holder checks the file it locked is still the
/// one at the path (a releaser may have unlinked it), and retries otherwise.
public final class StageLock {
    /// The lock file.
    public let url: URL
    private var fd: Int32 = -1

    private init(url: URL, fd: Int32) { self.url = url; self.fd = fd }

    /// Who holds the lock according to the file (may be stale if the holder died; the lock itself is not).
    public static func holder(of url: URL) -> String? {
        guard let s = try? String(contentsOf: url, encoding: .utf8), !s.isEmpty else { return nil }
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether some process holds the lock (probed with a shared lock on a read-only descriptor, so
    /// nothing is created or changed).
    public static func isHeld(_ url: URL) -> Bool {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
        return true
    }

    /// Tries once; returns nil if another process (or thread) holds the lock.
    public static func tryAcquire(_ url: URL) throws -> StageLock? {
        while true {
            let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw EngineError("cannot open lock \(url.path): \(String(cString: strerror(errno)))") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                close(fd)
                if errno == EWOULDBLOCK || errno == EAGAIN || errno == EINTR { return nil }
                throw EngineError("cannot lock \(url.path): \(String(cString: strerror(errno)))")
            }
            var a = stat(), b = stat()
            if fstat(fd, &a) == 0, stat(url.path, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev {
                let note = "pid \(getpid()) on \(localHostName()) since \(_now())\n"
                ftruncate(fd, 0)
                _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
                return StageLock(url: url, fd: fd)
            }
            close(fd)  // The file was unlinked by its previous holder; lock the new one.
        }
    }

    /// Waits for the lock, calling `waiting` once with the holder's description; gives up when `cancelled()`.
    public static func acquire(_ url: URL, cancelled: () -> Bool, waiting: (String) -> Void) throws -> StageLock? {
        var told = false
        while true {
            if let l = try tryAcquire(url) { return l }
            if cancelled() { return nil }
            if !told { waiting(holder(of: url) ?? "another process"); told = true }
            usleep(20_000)
        }
    }

    /// Releases the lock and removes the file.
    public func release() {
        guard fd >= 0 else { return }
        unlink(url.path)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

extension ArtifactStore {
    /// Lock files currently held, with their holders (for `status`); reads only.
    public func heldLocks() -> [(key: String, holder: String)] {
        let locks = dir("locks")
        var out: [(String, String)] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: locks.path)) ?? []).sorted() where name.hasSuffix(".lock") && name != "store.lock" {
            let url = locks.appendingPathComponent(name)
            guard StageLock.isHeld(url) else { continue }
            out.append((String(name.dropLast(5)), StageLock.holder(of: url) ?? "unknown"))
        }
        return out
    }
}
