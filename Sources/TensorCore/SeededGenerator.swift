import Foundation

/// A seeded pseudo-random generator whose stream is identical on every machine and Swift version:
/// xoshiro256** seeded through SplitMix64, with our own float, normal and shuffle derivations (we never
/// use the standard library's algorithms, whose exact streams are not promised across versions).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    /// A second normal deviate left over from Box–Muller, used by the next `nextNormal()`.
    private var spareNormal: Float?

    /// A generator seeded by `seed`.
    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// A generator for an independent stream derived from `seed` and a name (a stage, an image id),
    /// so that adding a consumer of randomness never shifts another consumer's stream.
    public init(seed: UInt64, stream: String) {
        self.init(seed: SeededGenerator.derive(seed: seed, stream: stream))
    }

    /// Mixes a name into a seed (FNV-1a over the UTF-8 bytes, then SplitMix64 finalisation).
    public static func derive(seed: UInt64, stream: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for byte in stream.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        var z = hash &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 random bits (every value exactly representable in Float).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [low, high).
    public mutating func nextUniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * nextUniform()
    }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift with rejection; unbiased).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        let b = UInt64(bound)
        while true {
            let product = next().multipliedFullWidth(by: b)
            if product.low >= (0 &- b) % b { return Int(product.high) }
        }
    }

    /// Standard normal deviate (Box–Muller in Double, so the stream does not depend on Float libm).
    public mutating func nextNormal() -> Float {
        if let spare = spareNormal { spareNormal = nil; return spare }
        var u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let radius = (-2.0 * Foundation.log(u1)).squareRoot()
        spareNormal = Float(radius * Foundation.sin(2.0 * Double.pi * u2))
        return Float(radius * Foundation.cos(2.0 * Double.pi * u2))
    }

    /// Normal deviate with the given mean and standard deviation.
    public mutating func nextNormal(mean: Float, standardDeviation: Float) -> Float {
        mean + standardDeviation * nextNormal()
    }

    /// Fisher–Yates shuffle with this generator's own index draws.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    /// `count` distinct indices drawn uniformly from 0..<population, in draw order.
    public mutating func sample(_ count: Int, from population: Int) -> [Int] {
        precondition(count <= population, "cannot sample \(count) of \(population)")
        var pool = Array(0..<population)
        for i in 0..<count {
            let j = i + nextInt(below: population - i)
            pool.swapAt(i, j)
        }
        return Array(pool.prefix(count))
    }
}

/// The generator's exact state, so a training loop stopped between two steps resumes drawing the very
/// numbers it would have drawn (the state words and the spare normal deviate as hexadecimal bit patterns:
/// JSON numbers would lose bits above 2^53).
extension SeededGenerator: Codable {
    private enum CodingKeys: String, CodingKey { case state, spareNormal = "spare_normal" }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let words = try container.decode([String].self, forKey: .state).compactMap { UInt64($0, radix: 16) }
        guard words.count == 4 else {
            throw DecodingError.dataCorruptedError(forKey: .state, in: container,
                                                   debugDescription: "a generator state is four 64-bit words in hexadecimal")
        }
        state = (words[0], words[1], words[2], words[3])
        if let bits = try container.decodeIfPresent(String.self, forKey: .spareNormal) {
            guard let pattern = UInt32(bits, radix: 16) else {
                throw DecodingError.dataCorruptedError(forKey: .spareNormal, in: container,
                                                       debugDescription: "the spare normal deviate is a 32-bit pattern in hexadecimal")
            }
            spareNormal = Float(bitPattern: pattern)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode([state.0, state.1, state.2, state.3].map { String($0, radix: 16) }, forKey: .state)
        try container.encodeIfPresent(spareNormal.map { String($0.bitPattern, radix: 16) }, forKey: .spareNormal)
    }
}
