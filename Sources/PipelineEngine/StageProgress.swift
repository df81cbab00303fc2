import Foundation

/// Progress inside a stage (training reports epoch, step, loss and throughput).
public struct StageProgress: Sendable, Equatable {
    /// Current epoch (1-based), if the stage has epochs.
    public var epoch: Int?
    /// Total epochs.
    public var epochs: Int?
    /// Current step within the epoch or the stage.
    public var step: Int?
    /// Total steps.
    public var steps: Int?
    /// Latest loss.
    public var loss: Double?
    /// Items per second (`unit` says which items).
    public var throughput: Double?
    /// The items counted by `throughput` ("images").
    public var unit: String?
    /// Fraction of the stage done in [0, 1]; drives the ETA.
    public var fraction: Double?
    /// A free-form note.
    public var message: String?

    /// Creates a progress report; every field is optional.
    public init(epoch: Int? = nil, epochs: Int? = nil, step: Int? = nil, steps: Int? = nil, loss: Double? = nil,
                throughput: Double? = nil, unit: String? = nil, fraction: Double? = nil, message: String? = nil) {
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.steps = steps; self.loss = loss
        self.throughput = throughput; self.unit = unit; self.fraction = fraction; self.message = message
    }
}
