import Foundation

/// A fresh folder under the system's temporary directory, removed (read-only store objects included)
/// when the value goes away.
public final class TemporaryDirectory {
    /// The folder.
    public let url: URL

    /// Creates `<tmp>/<prefix>-<8 random hex digits>`.
    public init(_ prefix: String = "masknet-tests") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { removeTree(url) }

    /// `url/name`.
    public func appending(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Removes a folder even where the store made files or folders read-only.
public func removeTree(_ url: URL) {
    if (try? FileManager.default.removeItem(at: url)) != nil { return }
    if let walker = FileManager.default.enumerator(atPath: url.path) {
        for case let relative as String in walker { chmod(url.appendingPathComponent(relative).path, 0o755) }
    }
    chmod(url.path, 0o755)
    try? FileManager.default.removeItem(at: url)
}
