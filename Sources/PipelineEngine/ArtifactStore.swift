import Foundation
import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A stored output: a file, or a directory tree (a manifest object listing files by digest).
public struct Artifact: Codable, Hashable, Sendable {
    /// A file, or a tree.
    public var type: ArtifactType
    /// SHA-256 of the file, or of the tree's canonical manifest.
    public var digest: String
    /// Bytes (the sum of all files for a tree).
    public var size: Int

    /// Creates an artifact description.
    public init(type: ArtifactType, digest: String, size: Int) {
        self.type = type; self.digest = digest; self.size = size
    }

    /// The artifact as a key component.
    public var json: JSONValue { .object(["type": .string(type.rawValue), "digest": .string(digest), "size": .integer(size)]) }
}

/// What an artifact is (stored by its raw value in records, specs and manifests).
public enum ArtifactType: String, Codable, Hashable, Sendable, CustomStringConvertible {
    /// One file: the object is the file.
    case file
    /// A directory: the object is a manifest listing each file's path, digest and size.
    case tree

    public var description: String { rawValue }
}

/// What the store knows about a finished stage key: what went in, what came out, and what it cost.
public struct ActionRecord: Codable, Sendable {
    /// The stage key (SHA-256 of the canonical components).
    public var key: String
    /// The stage name that first computed it.
    public var stage: String
    /// The kind name.
    public var kind: String
    /// The kind's implementation version.
    public var version: String
    /// The canonical key components (kind, version, params, inputs, seed, format).
    public var components: JSONValue
    /// Output name → stored artifact.
    public var outputs: [String: Artifact]
    /// Metrics returned by the stage.
    public var metrics: [String: Double]
    /// The kind's determinism statement.
    public var determinism: String
    /// Wall-clock seconds of `execute`.
    public var wallSeconds: Double
    /// Peak resident memory in bytes (the child's for `command`, else the process peak).
    public var peakMemoryBytes: Int
    /// The stage log, stored as an object.
    public var log: Artifact?
    /// ISO 8601 time of publication.
    public var createdAt: String
    /// Host that computed it.
    public var host: String
}

/// The content-addressed store: objects by SHA-256, action records by stage key, specs, runs, locks.
///
/// Layout under the root (default `Artifacts/`):
/// `objects/ab/<sha256>` (read-only files), `actions/ab/<key>.json`, `specs/ab/<key>.json` (the exact
/// canonical components, so a stage can be executed elsewhere from the store alone), `runs/<id>/`,
/// `locks/`, `scratch/` (per attempt, never read as results), `checkpoints/<key>/`, `tmp/`.
/// Every write is temp-then-rename; objects are published before the action record that names them.
///
/// Unchecked Sendable: `_verified` is read and written only under `_lock`; `root` and `stateTable`
/// (which locks its own state) are `let`s.
public final class ArtifactStore: @unchecked Sendable {
    /// Part of every key: bump when the store's layout or key recipe changes.
    public static let formatVersion = 1
    /// The root directory.
    public let root: URL
    private let _lock = NSLock()
    private var _verified = Set<String>()

    /// Digests of files by stat tuple (`state/files.tsv`): workspace inputs and objects are not rehashed
    /// while unchanged.
    public let stateTable: FileStateTable

    /// Opens a store, creating its directories unless `creating` is false (the read-only commands
    /// `plan`, `why` and `status` must not write; a missing store then reads as empty).
    public init(root: URL, creating: Bool = true) throws {
        self.root = root.standardizedFileURL
        self.stateTable = FileStateTable(url: self.root.appendingPathComponent("state/files.tsv"))
        guard creating else { return }
        for d in ["objects", "actions", "specs", "runs", "locks", "scratch", "checkpoints", "tmp"] {
            do {
                try FileManager.default.createDirectory(at: self.root.appendingPathComponent(d), withIntermediateDirectories: true)
            } catch {
                throw EngineError("cannot create the store directory \(self.root.path)/\(d): \(error.localizedDescription); pass --store DIR or set MASKNET_STORE")
            }
        }
    }

    /// The store root from `--store`, then `MASKNET_STORE`, then `Artifacts/`.
    public static func defaultRoot(_ flag: String?) -> URL {
        URL(fileURLWithPath: flag ?? ProcessInfo.processInfo.environment["MASKNET_STORE"] ?? "Artifacts")
    }

    func dir(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// Path of an object.
    public func objectURL(_ digest: String) -> URL {
        root.appendingPathComponent("objects/\(digest.prefix(2))/\(digest)")
    }
    func actionURL(_ key: String) -> URL { root.appendingPathComponent("actions/\(key.prefix(2))/\(key).json") }
    func specURL(_ key: String) -> URL { root.appendingPathComponent("specs/\(key.prefix(2))/\(key).json") }

    // MARK: hashing

    /// SHA-256 and size of a file.
    public static func hashFile(_ url: URL) throws -> (digest: String, size: Int) { try _sha256(ofFile: url) }

    /// SHA-256 hex of bytes.
    public static func hash(_ data: Data) -> String { _hex(SHA256.hash(data: data)) }

    // MARK: import

    /// Stores a file or directory as an artifact. `move` renames scratch files into the store instead of copying.
    public func store(itemAt url: URL, move: Bool) throws -> Artifact {
        try _artifact(itemAt: url, file: { try self.storeFile($0, move: move) }, manifest: { try self.storeData($0) })
    }

    /// The artifact a file or directory would become, without writing anything but the state table
    /// (what `plan` needs to compute a key).
    public func describe(itemAt url: URL, recordState: Bool = true) throws -> Artifact {
        try _artifact(itemAt: url, file: { f in
            let (digest, size) = try self.stateTable.digest(of: f, record: recordState)
            return Artifact(type: .file, digest: digest, size: size)
        }, manifest: { Artifact(type: .file, digest: ArtifactStore.hash($0), size: $0.count) })
    }

    /// Walks a file or tree: `file` makes each file's artifact, `manifest` the tree manifest's.
    private func _artifact(itemAt url: URL, file: (URL) throws -> Artifact, manifest: (Data) throws -> Artifact) throws -> Artifact {
        var st = stat()
        guard lstat(url.path, &st) == 0 else { throw EngineError("\(url.path) does not exist") }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            return try file(url)
        case S_IFDIR:
            var entries: [JSONValue] = []
            var total = 0
            for rel in try _listFiles(url) {
                let a = try file(url.appendingPathComponent(rel))
                total += a.size
                entries.append(.object(["path": .string(rel), "digest": .string(a.digest), "size": .integer(a.size)]))
            }
            let data = JSONValue.object(["entries": .array(entries), "format": .integer(ArtifactStore.formatVersion)]).canonicalData
            let m = try manifest(data)
            return Artifact(type: .tree, digest: m.digest, size: total)
        default:
            throw EngineError("\(url.path) is neither a regular file nor a directory (symbolic links are not stored; copy the target instead)")
        }
    }

    /// Stores bytes as an object.
    @discardableResult
    public func storeData(_ data: Data) throws -> Artifact {
        let digest = ArtifactStore.hash(data)
        let dest = objectURL(digest)
        if !_objectIsIntact(dest, digest) {
            let tmp = try _temporaryURL()
            try data.write(to: tmp)
            try _publish(tmp, to: dest)
        }
        return Artifact(type: .file, digest: digest, size: data.count)
    }

    func storeFile(_ url: URL, move: Bool) throws -> Artifact {
        // Workspace files (data sets) are looked up in the state table; fresh scratch outputs are hashed.
        let (digest, size) = move ? try ArtifactStore.hashFile(url) : try stateTable.digest(of: url)
        let dest = objectURL(digest)
        if _objectIsIntact(dest, digest, size: size) { return Artifact(type: .file, digest: digest, size: size) }
        var source = url
        if !move {
            source = try _temporaryURL()
            try FileManager.default.copyItem(at: url, to: source)
            // A copy made while the workspace file changes would not match its digest.
            guard try ArtifactStore.hashFile(source).digest == digest else {
                throw EngineError("\(url.path) changed while it was being stored; rerun")
            }
        }
        try _publish(source, to: dest)
        return Artifact(type: .file, digest: digest, size: size)
    }

    /// Makes the file read-only and durable, then renames it into place (atomic on one filesystem).
    func _publish(_ source: URL, to dest: URL) throws {
        chmod(source.path, 0o444)
        let fd = open(source.path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        if rename(source.path, dest.path) != 0 {
            if errno == EXDEV {
                let tmp = try _temporaryURL()
                try FileManager.default.copyItem(at: source, to: tmp)
                chmod(tmp.path, 0o444)
                guard rename(tmp.path, dest.path) == 0 else { throw EngineError("cannot publish \(dest.path): \(String(cString: strerror(errno)))") }
            } else {
                throw EngineError("cannot publish \(dest.path): \(String(cString: strerror(errno)))")
            }
        }
        _lock.lock(); _verified.insert(dest.lastPathComponent); _lock.unlock()
    }

    func _objectIsIntact(_ url: URL, _ digest: String, size: Int? = nil) -> Bool {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return false }
        if let size, Int(st.st_size) != size { return false }
        return (try? stateTable.digest(of: url).digest) == digest
    }

    func _temporaryURL() throws -> URL {
        dir("tmp").appendingPathComponent("\(getpid())-\(UUID().uuidString)")
    }

    // MARK: verification

    /// Checks that an artifact's objects exist and match their digests; returns the problem or nil.
    /// Each object is hashed at most once per store instance (one run).
    public func verify(_ artifact: Artifact) -> String? {
        if let p = _verifyObject(artifact.digest) { return p }
        guard artifact.type == .tree else { return nil }
        guard let entries = try? treeEntries(artifact) else { return "tree manifest \(artifact.digest.prefix(12)) is unreadable" }
        for e in entries { if let p = _verifyObject(e.digest) { return "\(e.path): \(p)" } }
        return nil
    }

    func _verifyObject(_ digest: String) -> String? {
        _lock.lock()
        let known = _verified.contains(digest)
        _lock.unlock()
        if known { return nil }
        let url = objectURL(digest)
        guard FileManager.default.fileExists(atPath: url.path) else { return "object \(digest.prefix(12)) is missing" }
        guard let actual = try? stateTable.digest(of: url).digest else { return "object \(digest.prefix(12)) is unreadable" }
        guard actual == digest else { return "object \(digest.prefix(12)) is corrupt (its content hashes to \(actual.prefix(12)))" }
        _lock.lock(); _verified.insert(digest); _lock.unlock()
        return nil
    }

    /// Removes a damaged object so it is rewritten on the next publication.
    func discardObject(_ digest: String) {
        unlink(objectURL(digest).path)
        _lock.lock(); _verified.remove(digest); _lock.unlock()
    }

    /// Entries of a tree artifact.
    public func treeEntries(_ artifact: Artifact) throws -> [(path: String, digest: String, size: Int)] {
        let data = try Data(contentsOf: objectURL(artifact.digest))
        let v = try _JSON.decode(JSONValue.self, from: data)
        guard let entries = v.objectValue?["entries"]?.arrayValue else { throw EngineError("bad manifest") }
        return entries.compactMap { e in
            guard let o = e.objectValue, let p = o["path"]?.stringValue, let d = o["digest"]?.stringValue else { return nil }
            return (p, d, o["size"]?.intValue ?? 0)
        }
    }

    /// Recreates an artifact at `url` with hard links to the (read-only) objects, copying when linking fails.
    public func materialize(_ artifact: Artifact, at url: URL) throws {
        func place(_ digest: String, _ dest: URL) throws {
            try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            if link(objectURL(digest).path, dest.path) != 0 {
                try FileManager.default.copyItem(at: objectURL(digest), to: dest)
                chmod(dest.path, 0o444)
            }
        }
        if artifact.type == .tree {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for e in try treeEntries(artifact) { try place(e.digest, url.appendingPathComponent(e.path)) }
        } else {
            try place(artifact.digest, url)
        }
    }

    // MARK: records

    /// The action record of a key, if one was published and is readable.
    public func actionRecord(_ key: String) -> ActionRecord? {
        guard let data = FileManager.default.contents(atPath: actionURL(key).path) else { return nil }
        return try? _JSON.decode(ActionRecord.self, from: data)
    }

    /// Publishes an action record (after its objects).
    public func writeActionRecord(_ record: ActionRecord) throws {
        try writeAtomically(try _JSON.encode(record), to: actionURL(record.key))
    }

    /// Forgets a key (a damaged entry), so it is recomputed.
    public func removeActionRecord(_ key: String) { unlink(actionURL(key).path) }

    /// Stores the canonical components of a key (idempotent).
    public func writeSpec(_ key: String, _ data: Data) throws {
        if FileManager.default.fileExists(atPath: specURL(key).path) { return }
        try writeAtomically(data, to: specURL(key))
    }

    /// The full key for a unique prefix of a key whose spec is stored.
    public func resolveKey(_ prefix: String) throws -> String {
        if prefix.count == 64 { return prefix }
        let shard = dir("specs").appendingPathComponent(String(prefix.prefix(2)))
        let matches = ((try? FileManager.default.contentsOfDirectory(atPath: shard.path)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        guard matches.count == 1 else {
            throw EngineError(matches.isEmpty ? "no stage spec starting with \(prefix) in \(root.path)/specs; run `masknet plan` first"
                                              : "\(prefix) matches \(matches.count) stage keys; give more digits")
        }
        return matches[0]
    }

    /// The stored spec bytes of a key, if any (`StageSpec(storedIn:key:)` checks and decodes them).
    public func specData(_ key: String) -> Data? { FileManager.default.contents(atPath: specURL(key).path) }

    /// Writes a file via a temporary file and rename, so readers see the old or the new file, never half.
    /// `durable` also flushes to disk (for action records, which later runs trust); run reports skip it.
    public func writeAtomically(_ data: Data, to url: URL, durable: Bool = true) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = try _temporaryURL()
        // Plain POSIX writes: Foundation's createFile adds its own temporary file and fsync.
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError("cannot write \(tmp.path): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        if durable { fsync(fd) }
        close(fd)
        guard ok else {
            unlink(tmp.path)
            throw EngineError("cannot write \(tmp.path) (disk full or no permission?)")
        }
        guard rename(tmp.path, url.path) == 0 else {
            unlink(tmp.path)
            throw EngineError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes leftovers of earlier attempts at a key (call with the key's lock held).
    ///
    /// A runner killed with SIGKILL cannot stop the command it started, so the orphan may still be
    /// working in its scratch directory: the process group recorded there is killed first, but only if
    /// its working directory is still inside that directory (so a reused pid is never touched).
    func removeScratch(forKey key: String) {
        let scratch = dir("scratch")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: scratch.path)) ?? [] where name.hasPrefix(key + ".") {
            let attempt = scratch.appendingPathComponent(name)
            if let text = try? String(contentsOf: attempt.appendingPathComponent("pgid"), encoding: .utf8),
               let pgid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pgid > 1,
               let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pgid)/cwd"),
               cwd.hasPrefix(attempt.path) {
                kill(-pgid, SIGKILL)
            }
            _removeTree(attempt)
        }
    }
}
