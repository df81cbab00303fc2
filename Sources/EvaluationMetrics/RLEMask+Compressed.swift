// RLEMask+Compressed: the compressed `counts` string of COCO JSON.
//
// Format (maskApi rleToString/rleFrString): each run from the third on is stored as the difference to the
// run two places earlier (runs of the same colour), then written like signed LEB128 but with 5 payload bits
// per character: bit 0x20 says "more characters follow", bit 0x10 of the last character is the sign,
// and each 6-bit group is offset by 48 so the string is printable ASCII '0'...'o'.

/// A compressed COCO `counts` string that cannot be decoded.
public struct RLEStringError: Error, Equatable, CustomStringConvertible {
    /// What is wrong with the string.
    public let message: String
    /// Human-readable description.
    public var description: String { message }
}

extension RLEMask {
    /// The compressed `counts` string pycocotools writes for this mask.
    public var compressedString: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(counts.count * 2)
        for i in counts.indices {
            var x = Int64(counts[i])
            if i > 2 { x -= Int64(counts[i - 2]) }
            var more = true
            while more {
                var c = UInt8(truncatingIfNeeded: x & 0x1f)
                x >>= 5  // arithmetic shift: negative differences stay negative
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                bytes.append(c + 48)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes a compressed `counts` string for a mask of size `[height, width]`.
    ///
    /// Throws when a character is outside '0'...'o', the string ends inside a value, or a run is negative
    /// or does not fit 32 bits (pycocotools would silently produce garbage there).
    public init(compressed string: String, height: Int, width: Int) throws {
        var runs: [UInt32] = []
        let bytes = Array(string.utf8)
        var p = 0
        while p < bytes.count {
            var x: Int64 = 0
            var k: Int64 = 0
            var more = true
            while more {
                guard p < bytes.count else {
                    throw RLEStringError(message: "RLE counts string ends inside a value at character \(p)")
                }
                let raw = bytes[p]
                guard raw >= 48 && raw < 48 + 64 else {
                    throw RLEStringError(message: "RLE counts string has the invalid character '\(Character(Unicode.Scalar(raw)))' at \(p)")
                }
                let c = Int64(raw - 48)
                x |= (c & 0x1f) << (5 * k)
                more = (c & 0x20) != 0
                p += 1
                k += 1
                if !more && (c & 0x10) != 0 { x |= -1 << (5 * k) }
            }
            if runs.count > 2 { x += Int64(runs[runs.count - 2]) }
            guard x >= 0 && x <= Int64(UInt32.max) else {
                throw RLEStringError(message: "RLE counts string decodes to the invalid run \(x) at position \(runs.count)")
            }
            runs.append(UInt32(x))
        }
        self.init(height: height, width: width, counts: runs)
    }
}
