import Foundation

/// A stage name as a folder name (the run folder's `logs/` use the same spelling).
func _folderName(_ s: String) -> String {
    String(s.map { $0.isLetter || $0.isNumber || "_-.=,".contains($0) ? $0 : "_" })
}

/// Lists a directory, which makes an NFS client revalidate its cached attributes (as Nextflow does before it
/// declares an exit file missing).
func _refreshDirectory(_ url: URL) {
    _ = try? FileManager.default.contentsOfDirectory(atPath: url.path)
}

/// The last `lines` lines of a file (at most 64 KiB read), or "" when it does not exist.
func _logTail(_ url: URL, lines: Int) -> String {
    guard let handle = FileHandle(forReadingAtPath: url.path) else { return "" }
    defer { try? handle.close() }
    let size = (try? handle.seekToEnd()) ?? 0
    let start = size > 65536 ? size - 65536 : 0
    try? handle.seek(toOffset: start)
    let data = (try? handle.readToEnd()) ?? Data()
    let text = String(decoding: data, as: UTF8.self)
    return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
        .trimmingCharacters(in: .whitespacesAndNewlines)
}
