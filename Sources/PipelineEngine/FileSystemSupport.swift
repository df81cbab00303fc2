import Foundation
import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Small helpers shared by the store, locks and records (kept out of ArtifactStore.swift so that the
// lock file and the store do not depend on each other).

func _hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    let table = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(64)
    for b in digest { out.append(table[Int(b >> 4)]); out.append(table[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

/// A file name for a stage name (sweep cells contain brackets and `=`; slashes must not make folders).
func _safeFileName(_ s: String) -> String {
    String(s.map { $0.isLetter || $0.isNumber || "_-.=,".contains($0) ? $0 : "_" })
}

/// Relative paths of all regular files under a directory, sorted (symlinks rejected).
func _listFiles(_ root: URL) throws -> [String] {
    var out: [String] = []
    func walk(_ rel: String) throws {
        let url = rel.isEmpty ? root : root.appendingPathComponent(rel)
        for name in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() {
            let r = rel.isEmpty ? name : "\(rel)/\(name)"
            var st = stat()
            guard lstat(root.appendingPathComponent(r).path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG: out.append(r)
            case S_IFDIR: try walk(r)
            default: throw EngineError("\(root.appendingPathComponent(r).path) is a symbolic link or special file; outputs may contain only files and directories")
            }
        }
    }
    try walk("")
    return out.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
}

/// Deletes a directory tree even where files were made read-only.
func _removeTree(_ url: URL) {
    if (try? FileManager.default.removeItem(at: url)) != nil { return }
    if let e = FileManager.default.enumerator(atPath: url.path) {
        for case let rel as String in e { chmod(url.appendingPathComponent(rel).path, 0o755) }
    }
    chmod(url.path, 0o755)
    try? FileManager.default.removeItem(at: url)
}

private let _isoLock = NSLock()
// nonisolated(unsafe): the formatter is not Sendable; it is used only in `_now()`, under `_isoLock`.
nonisolated(unsafe) private let _iso: ISO8601DateFormatter = {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f
}()

/// ISO 8601 timestamp (one shared formatter: creating one costs more than a cached run's hashing).
func _now() -> String {
    _isoLock.lock(); defer { _isoLock.unlock() }
    return _iso.string(from: Date())
}

/// The host name from gethostname(2) (Foundation's hostName may do a DNS lookup).
public func localHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
    return String(cString: buffer)
}

/// SHA-256 and size of a file.
func _sha256(ofFile url: URL) throws -> (digest: String, size: Int) {
    let fd = open(url.path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw EngineError("cannot read \(url.path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var hasher = SHA256()
    var size = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n < 0 { if errno == EINTR { continue }; throw EngineError("cannot read \(url.path): \(String(cString: strerror(errno)))") }
        if n == 0 { break }
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        size += n
    }
    return (_hex(hasher.finalize()), size)
}
