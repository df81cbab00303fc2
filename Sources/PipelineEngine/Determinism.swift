import Foundation

/// How reproducible a kind's outputs are.
public enum Determinism: Sendable, Equatable {
    /// The same inputs and parameters always produce the same bytes; the seed is not used.
    case deterministic
    /// Deterministic given the derived seed (all randomness comes from `StageContext.seed`).
    case seeded
    /// Outputs may differ between runs with the same key (say why, e.g. "thread-order float sums").
    /// Results are still cached: downstream stages key on the actual output digests.
    case nondeterministic(reason: String)

    /// A short label for records and tables.
    public var label: String {
        switch self {
        case .deterministic: return "deterministic"
        case .seeded: return "deterministic given seed"
        case .nondeterministic(let reason): return "nondeterministic (\(reason))"
        }
    }
}
