import Foundation

/// How `sbatch` failures are told apart and retried: a controller that is busy or restarting is asked again
/// after a growing, jittered delay; a site limit is reported at once, naming the limit.
public struct SubmissionRetry: Sendable {
    /// Attempts after the first.
    public var maxRetries = 5
    /// The delay before the first retry, doubled for each further one.
    public var baseDelaySeconds = 1.0
    /// The longest delay.
    public var maxDelaySeconds = 30.0

    /// The built-in policy: 5 retries, 1 s doubling to at most 30 s, each ±50 % jitter.
    public init() {}

    /// A policy with the given values.
    public init(maxRetries: Int, baseDelaySeconds: Double, maxDelaySeconds: Double) {
        self.maxRetries = maxRetries; self.baseDelaySeconds = baseDelaySeconds; self.maxDelaySeconds = maxDelaySeconds
    }

    /// The delay before retry `attempt` (0-based): exponential, capped, scaled by a jitter factor in [0.5, 1.5)
    /// so that many drivers hit by one controller hiccup do not all come back at the same moment.
    public func delay(beforeRetry attempt: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let exponential = min(maxDelaySeconds, baseDelaySeconds * pow(2, Double(attempt)))
        return exponential * Double.random(in: 0.5..<1.5, using: &generator)
    }

    /// Messages of a controller that cannot answer now (Slurm's own wording, from its error tables).
    static let transientMarkers = [
        "Socket timed out", "Unable to contact slurm controller", "temporarily unable to accept job",
        "Unexpected message received", "Resource temporarily unavailable", "Zero Bytes were transmitted",
        "Connection refused", "Communication connection failure", "Transaction blocked by another",
        "slurm_persist_conn", "Insane message length", "timed out after",
    ]

    /// Whether an `sbatch` error is worth retrying.
    public static func isTransient(_ message: String) -> Bool {
        transientMarkers.contains { message.range(of: $0, options: .caseInsensitive) != nil }
    }

    /// The site limit an `sbatch` error names (`QOSMaxSubmitJobPerUserLimit`, an invalid account…), or nil.
    public static func limit(in message: String) -> String? {
        if let r = message.range(of: "(QOS|Assoc|Part)[A-Za-z]*Limit", options: .regularExpression) { return String(message[r]) }
        let phrases = [
            "MaxSubmitJobs", "MaxSubmitJobsPerUser", "Job violates accounting/QOS policy", "Invalid qos specification",
            "Invalid account or account/partition combination specified", "Invalid partition name specified",
            "Requested time limit is invalid", "Requested node configuration is not available",
            "Memory required by task is not available", "Job size specification needs to be provided",
            "Invalid generic resource (gres) specification", "More processors requested than permitted",
            "submission limit", "MaxArraySize",
        ]
        return phrases.first { message.range(of: $0, options: .caseInsensitive) != nil }
    }
}
