import Foundation

/// One scalar at one step: TensorBoard's `Event { wall_time, step, summary { value { tag, simple_value } } }`.
///
/// The protobuf encoding is written by hand: an event file needs six fields of two messages (`Event`:
/// wall_time = 1 double, step = 2 int64, file_version = 3 string, summary = 5 message; `Summary.Value`:
/// tag = 1 string, simple_value = 2 float), and the reader of our tests needs the same six. That is
/// about forty lines, against a swift-protobuf dependency plus committed generated code and a generation
/// script for TensorFlow's `event.proto`/`summary.proto` (which pull in tensor and plugin messages we
/// never write). The files are checked by TensorBoard's own reader (`Tools/check_tensorboard_events.py`).
public struct TensorBoardEvent: Equatable, Sendable {
    public var wallTime: Double
    public var step: Int64
    /// Set on the first event of a file only (`brain.Event:2`).
    public var fileVersion: String?
    /// (tag, value) pairs of the event's summary.
    public var scalars: [(tag: String, value: Float)]

    public init(wallTime: Double, step: Int64, fileVersion: String? = nil, scalars: [(tag: String, value: Float)] = []) {
        self.wallTime = wallTime; self.step = step; self.fileVersion = fileVersion; self.scalars = scalars
    }

    public static func == (a: TensorBoardEvent, b: TensorBoardEvent) -> Bool {
        a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion
            && a.scalars.map(\.tag) == b.scalars.map(\.tag) && a.scalars.map(\.value) == b.scalars.map(\.value)
    }

    /// The protobuf bytes of the `Event` message.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        Protobuf.tag(1, wireType: 1, into: &out)
        Protobuf.fixed64(wallTime.bitPattern, into: &out)
        if step != 0 { Protobuf.tag(2, wireType: 0, into: &out); Protobuf.varint(UInt64(bitPattern: step), into: &out) }
        if let fileVersion { Protobuf.bytes(3, Array(fileVersion.utf8), into: &out) }
        if !scalars.isEmpty {
            var summary: [UInt8] = []
            for scalar in scalars {
                var value: [UInt8] = []
                Protobuf.bytes(1, Array(scalar.tag.utf8), into: &value)
                Protobuf.tag(2, wireType: 5, into: &value)
                Protobuf.fixed32(scalar.value.bitPattern, into: &value)
                Protobuf.bytes(1, value, into: &summary)
            }
            Protobuf.bytes(5, summary, into: &out)
        }
        return out
    }

    /// Decodes an `Event` message; unknown fields (other summaries, graphs) are skipped.
    public init(decoding bytes: [UInt8]) throws {
        self.init(wallTime: 0, step: 0)
        var reader = Protobuf.Reader(bytes)
        while let (field, wireType) = try reader.nextTag() {
            switch (field, wireType) {
            case (1, 1): wallTime = Double(bitPattern: try reader.fixed64())
            case (2, 0): step = Int64(bitPattern: try reader.varint())
            case (3, 2): fileVersion = String(decoding: try reader.lengthDelimited(), as: UTF8.self)
            case (5, 2):
                var summary = Protobuf.Reader(try reader.lengthDelimited())
                while let (summaryField, summaryWire) = try summary.nextTag() {
                    guard summaryField == 1, summaryWire == 2 else { try summary.skip(summaryWire); continue }
                    var value = Protobuf.Reader(try summary.lengthDelimited())
                    var tag = "", number: Float?
                    while let (valueField, valueWire) = try value.nextTag() {
                        switch (valueField, valueWire) {
                        case (1, 2): tag = String(decoding: try value.lengthDelimited(), as: UTF8.self)
                        case (2, 5): number = Float(bitPattern: try value.fixed32())
                        default: try value.skip(valueWire)
                        }
                    }
                    if let number { scalars.append((tag, number)) }
                }
            default: try reader.skip(wireType)
            }
        }
    }
}

/// The few protobuf wire-format pieces event files need.
enum Protobuf {
    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }
    static func tag(_ field: Int, wireType: Int, into out: inout [UInt8]) { varint(UInt64(field << 3 | wireType), into: &out) }
    static func fixed64(_ value: UInt64, into out: inout [UInt8]) { for i in 0..<8 { out.append(UInt8((value >> (8 * i)) & 0xFF)) } }
    static func fixed32(_ value: UInt32, into out: inout [UInt8]) { for i in 0..<4 { out.append(UInt8((value >> (8 * i)) & 0xFF)) } }
    static func bytes(_ field: Int, _ payload: [UInt8], into out: inout [UInt8]) {
        tag(field, wireType: 2, into: &out)
        varint(UInt64(payload.count), into: &out)
        out += payload
    }

    /// Reads a message's fields in order; every read is bounds-checked (a damaged file throws).
    struct Reader {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func nextTag() throws -> (Int, Int)? {
            guard position < bytes.count else { return nil }
            let key = try varint()
            return (Int(key >> 3), Int(key & 7))
        }
        mutating func varint() throws -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard position < bytes.count, shift < 64 else { throw TensorBoardFileError("truncated varint at byte \(position)") }
                let byte = bytes[position]; position += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
        }
        mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, position + count <= bytes.count else { throw TensorBoardFileError("field of \(count) bytes runs past the message end at byte \(position)") }
            defer { position += count }
            return bytes[position..<(position + count)]
        }
        mutating func fixed64() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        mutating func fixed32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        mutating func lengthDelimited() throws -> [UInt8] { Array(try take(Int(try varint()))) }
        mutating func skip(_ wireType: Int) throws {
            switch wireType {
            case 0: _ = try varint()
            case 1: _ = try take(8)
            case 2: _ = try lengthDelimited()
            case 5: _ = try take(4)
            default: throw TensorBoardFileError("unsupported wire type \(wireType) at byte \(position)")
            }
        }
    }
}

/// A damaged or foreign event file.
public struct TensorBoardFileError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
