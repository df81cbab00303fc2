/// Progress of a training loop, for live display and event logs (the detector's and the classifier's
/// trainers report it; it lives here, below both).
public struct TrainingProgress: Sendable {
    public var epoch: Int, epochs: Int
    public var step: Int, steps: Int
    public var loss: Double
    public var slicesPerSecond: Double
    /// The learning rate this step used (it changes within a run under a schedule).
    public var learningRate: Double?
    /// This step's own losses (not running means), by name, with the sum as `total`: for scalar logs.
    public var stepLosses: [String: Double]

    public init(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double, slicesPerSecond: Double,
                learningRate: Double? = nil, stepLosses: [String: Double] = [:]) {
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.steps = steps
        self.loss = loss; self.slicesPerSecond = slicesPerSecond; self.learningRate = learningRate
        self.stepLosses = stepLosses
    }
}
