import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Remembers the SHA-256 of files by (path, device, inode, size, mtime in ns), like DVC's state
/// database, so an unchanged multi-gigabyte data set is not rehashed by every `plan` and `run`.
///
/// Stored as `state/files.tsv` in the store: one line per observation,
/// `digest<TAB>size<TAB>mtime_ns<TAB>inode<TAB>device<TAB>path`, appended (the last line of a path wins)
/// and compacted when stale lines outnumber live ones. It is a cache of facts about files, never a
/// result: deleting it only costs rehashing. Any difference in the stat tuple means the file is hashed
/// again. A file modified less than `racyWindowNanoseconds` before it was hashed is not recorded,
/// because a second write within the filesystem's timestamp granularity would leave the tuple unchanged
/// (git's "racily clean" problem).
///
/// Unchecked Sendable: every mutable property (`_entries`, `_lines`, `_appendDescriptor`, `_hits`,
/// `_misses`) is read and written under `_lock` (deinit aside); `url` is a `let`.
public final class FileStateTable: @unchecked Sendable {
    /// A file's identity as `stat` reports it.
    struct Stamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int
        var mtimeNanoseconds: Int64
    }

    /// The table file.
    public let url: URL
    /// Files younger than this (relative to the moment they were hashed) are not recorded.
    static let racyWindowNanoseconds: Int64 = 2_000_000_000

    private let _lock = NSLock()
    private var _entries: [String: (stamp: Stamp, digest: String)]?
    private var _lines = 0
    private var _appendDescriptor: Int32 = -1
    private var _hits = 0, _misses = 0

    /// A table backed by `url` (read lazily on first use).
    public init(url: URL) { self.url = url }

    deinit { if _appendDescriptor >= 0 { close(_appendDescriptor) } }

    /// How many lookups were answered from the table, and how many files were hashed.
    public var statistics: (hits: Int, misses: Int) { _lock.lock(); defer { _lock.unlock() }; return (_hits, _misses) }

    /// SHA-256 and size of a regular file, from the table when its stat tuple is unchanged.
    /// `record: false` consults the table but never writes it.
    public func digest(of file: URL, record: Bool = true) throws -> (digest: String, size: Int) {
        let path = file.standardizedFileURL.path
        guard let before = FileStateTable.stamp(path) else {
            throw EngineError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        _lock.lock()
        _loadIfNeeded()
        if let known = _entries?[path], known.stamp == before {
            _hits += 1
            _lock.unlock()
            return (known.digest, before.size)
        }
        _misses += 1
        _lock.unlock()
        let (digest, size) = try _sha256(ofFile: file)
        // Record only what was hashed from one unchanged, not-too-fresh version of the file.
        guard record, let after = FileStateTable.stamp(path), after == before, size == before.size,
              _nowNanoseconds() - before.mtimeNanoseconds >= FileStateTable.racyWindowNanoseconds,
              !path.contains("\n"), !path.contains("\t") else { return (digest, size) }
        _lock.lock()
        _entries?[path] = (before, digest)
        _append("\(digest)\t\(before.size)\t\(before.mtimeNanoseconds)\t\(before.inode)\t\(before.device)\t\(path)\n")
        _lock.unlock()
        return (digest, size)
    }

    /// Drops the lines of files that no longer exist or whose stat tuple changed since they were hashed (a
    /// rehash would replace them anyway), then rewrites the table with one line per remaining path. Returns
    /// how many paths were dropped. `masknet gc` calls it; the caller must exclude concurrent runs.
    @discardableResult
    public func prune(dryRun: Bool = false) -> Int {
        _lock.lock(); defer { _lock.unlock() }
        _loadIfNeeded()
        guard let entries = _entries else { return 0 }
        let stale = entries.filter { path, entry in FileStateTable.stamp(path) != entry.stamp }.map(\.key)
        guard !dryRun else { return stale.count }
        for path in stale { _entries?[path] = nil }
        if _appendDescriptor >= 0 { close(_appendDescriptor); _appendDescriptor = -1 }
        if !stale.isEmpty || _lines > entries.count { _compact() }
        return stale.count
    }

    static func stamp(_ path: String) -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        #if os(Linux)
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #else
        let mtime = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #endif
        return Stamp(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int(st.st_size), mtimeNanoseconds: mtime)
    }

    /// Reads the table; compacts it when most lines are superseded. Call with `_lock` held.
    private func _loadIfNeeded() {
        guard _entries == nil else { return }
        var entries: [String: (stamp: Stamp, digest: String)] = [:]
        var lines = 0
        if let data = FileManager.default.contents(atPath: url.path) {
            for line in data.split(separator: UInt8(ascii: "\n")) {
                let fields = line.split(separator: UInt8(ascii: "\t"), maxSplits: 5, omittingEmptySubsequences: false)
                guard fields.count == 6,
                      let size = Int(String(decoding: fields[1], as: UTF8.self)),
                      let mtime = Int64(String(decoding: fields[2], as: UTF8.self)),
                      let inode = UInt64(String(decoding: fields[3], as: UTF8.self)),
                      let device = UInt64(String(decoding: fields[4], as: UTF8.self)) else { continue }  // a torn last line
                lines += 1
                entries[String(decoding: fields[5], as: UTF8.self)] =
                    (Stamp(device: device, inode: inode, size: size, mtimeNanoseconds: mtime), String(decoding: fields[0], as: UTF8.self))
            }
        }
        _entries = entries
        _lines = lines
    }

    /// Appends one line (O_APPEND keeps concurrent writers' lines whole). Call with `_lock` held.
    private func _append(_ line: String) {
        if _appendDescriptor < 0 {
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if _lines > 4 * max(_entries?.count ?? 0, 1000) { _compact() }
            _appendDescriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if _appendDescriptor < 0 { return }  // A read-only store: the table is only an optimisation.
        }
        _ = line.withCString { write(_appendDescriptor, $0, strlen($0)) }
        _lines += 1
    }

    /// Rewrites the table with one line per path (temp-then-rename). Call with `_lock` held.
    private func _compact() {
        guard let entries = _entries else { return }
        var text = ""
        for (path, e) in entries {
            text += "\(e.digest)\t\(e.stamp.size)\t\(e.stamp.mtimeNanoseconds)\t\(e.stamp.inode)\t\(e.stamp.device)\t\(path)\n"
        }
        let tmp = url.appendingPathExtension("\(getpid()).tmp")
        if (try? Data(text.utf8).write(to: tmp)) != nil, rename(tmp.path, url.path) == 0 { _lines = entries.count }
    }
}

func _nowNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
