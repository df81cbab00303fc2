import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The store-wide guard between runs (shared) and `gc` (exclusive), held with `flock`.
public final class StoreGuard {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Shared hold for a run (many runs at once).
    public static func shared(_ store: ArtifactStore) throws -> StoreGuard {
        let fd = open(store.dir("locks").appendingPathComponent("store.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError("cannot open the store lock in \(store.root.path)/locks") }
        while flock(fd, LOCK_SH) != 0 && errno == EINTR {}
        return StoreGuard(fd: fd)
    }

    /// Exclusive hold for `gc`; nil if a run is in progress.
    public static func exclusive(_ store: ArtifactStore) throws -> StoreGuard? {
        let fd = open(store.dir("locks").appendingPathComponent("store.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError("cannot open the store lock in \(store.root.path)/locks") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { close(fd); return nil }
        return StoreGuard(fd: fd)
    }

    /// Releases the hold.
    public func release() {
        if fd >= 0 { flock(fd, LOCK_UN); close(fd); fd = -1 }
    }

    deinit { release() }
}
