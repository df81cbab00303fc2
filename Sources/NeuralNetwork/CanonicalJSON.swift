import Foundation

/// JSON text with sorted keys, for checkpoint metadata: the same value always gives the same bytes, so
/// identical models give identical checkpoint files (and content hashes in the pipeline store).
public func canonicalJSONString<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard let data = try? encoder.encode(value) else { preconditionFailure("\(T.self) failed to encode as JSON") }
    return String(decoding: data, as: UTF8.self)
}
