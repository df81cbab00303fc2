import Foundation

/// TensorBoard's event file (`events.out.tfevents.*`): TFRecord framing of `Event` messages, each record
/// `uint64 length, uint32 masked CRC32C of the length, data, uint32 masked CRC32C of the data`
/// (little-endian), the first event carrying `file_version = "brain.Event:2"`.
public enum TensorBoardEventFile {
    /// The file name TensorBoard looks for (`events.out.tfevents.<seconds>.<label>`).
    public static func fileName(wallTime: Double, label: String = "masknet") -> String {
        "events.out.tfevents.\(Int(wallTime)).\(label)"
    }

    /// The bytes of a file holding `events` after the version event.
    public static func encode(_ events: [TensorBoardEvent], wallTime: Double) -> [UInt8] {
        var out: [UInt8] = []
        for event in [TensorBoardEvent(wallTime: wallTime, step: 0, fileVersion: "brain.Event:2")] + events {
            let data = event.encoded
            var length: [UInt8] = []
            Protobuf.fixed64(UInt64(data.count), into: &length)
            out += length
            Protobuf.fixed32(CRC32C.masked(length), into: &out)
            out += data
            Protobuf.fixed32(CRC32C.masked(data), into: &out)
        }
        return out
    }

    /// Writes the file into `directory`; returns its URL.
    @discardableResult
    public static func write(_ events: [TensorBoardEvent], to directory: URL, wallTime: Double) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(fileName(wallTime: wallTime))
        try Data(encode(events, wallTime: wallTime)).write(to: url, options: .atomic)
        return url
    }

    /// Reads every event of a file, checking both checksums of every record.
    public static func read(_ url: URL) throws -> [TensorBoardEvent] {
        let bytes = [UInt8](try Data(contentsOf: url))
        var events: [TensorBoardEvent] = [], position = 0
        func word<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
            (0..<MemoryLayout<T>.size).reversed().reduce(T(0)) { $0 << 8 | T(bytes[offset + $1]) }
        }
        while position < bytes.count {
            guard position + 12 <= bytes.count else { throw TensorBoardFileError("\(url.path): truncated record header at byte \(position)") }
            let length = Int(word(UInt64.self, at: position))
            guard word(UInt32.self, at: position + 8) == CRC32C.masked(bytes[position..<(position + 8)]) else {
                throw TensorBoardFileError("\(url.path): length checksum mismatch at byte \(position)")
            }
            let start = position + 12
            guard length >= 0, start + length + 4 <= bytes.count else { throw TensorBoardFileError("\(url.path): record at byte \(position) runs past the end") }
            let data = Array(bytes[start..<(start + length)])
            guard word(UInt32.self, at: start + length) == CRC32C.masked(data) else {
                throw TensorBoardFileError("\(url.path): data checksum mismatch in the record at byte \(position)")
            }
            events.append(try TensorBoardEvent(decoding: data))
            position = start + length + 4
        }
        return events
    }
}
