/// The settings every trainer's `EpochLoop` runs on, whatever it trains: so a stage sets them from its
/// parameters in one place (`StageSupport.applyTrainingLoop`) for the detector and the classifier alike.
public protocol TrainingLoopSettings {
    /// Total epochs (a resumed run continues up to this number).
    var epochs: Int { get set }
    /// Adam's base learning rate.
    var learningRate: Double { get set }
    /// How the rate changes over training.
    var learningRateSchedule: LearningRateSchedule { get set }
    /// L2 weight decay.
    var weightDecay: Double { get set }
    /// Epochs between resumable checkpoints.
    var checkpointEvery: Int { get set }
    /// Seeds the shuffles and every other random draw of training.
    var seed: UInt64 { get set }
}
