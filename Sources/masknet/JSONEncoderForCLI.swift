import Foundation

/// The JSON style of every `--json` output: sorted keys, pretty-printed.
enum JSONEncoderForCLI {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(value)
    }
}
