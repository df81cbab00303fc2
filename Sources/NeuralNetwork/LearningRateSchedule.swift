import Foundation

/// How the learning rate changes over a training run, as a factor of the configured (base) rate.
///
/// The factor is a pure function of the position in training (fractional epochs done), so a resumed run
/// continues on exactly the curve an uninterrupted one follows, and nothing about it needs saving.
public enum LearningRateSchedule: Codable, Equatable, Sendable {
    /// The base rate throughout (the seed's behaviour, spec §6.1 and §6.2).
    case constant
    /// The base rate multiplied by `gamma` once for each milestone epoch already reached (PyTorch's
    /// `MultiStepLR`, stepped per epoch): milestones `[8, 11]` with gamma 0.1 give 1, 0.1, 0.01.
    case step(milestones: [Int], gamma: Double)
    /// Half a cosine from the base rate down to `floor` × the base over the whole run, updated every step
    /// (PyTorch's `CosineAnnealingLR` with `eta_min = floor × base`, evaluated at fractional epochs).
    case cosine(floor: Double)

    /// The factor at `position` epochs into a run of `totalEpochs` (`position` counts completed epochs
    /// plus the fraction of the current one, so it runs from 0 to `totalEpochs`).
    public func factor(position: Double, totalEpochs: Int) -> Double {
        switch self {
        case .constant:
            return 1
        case .step(let milestones, let gamma):
            // Epoch e (0-based) has passed milestone m when e ≥ m, as in MultiStepLR.
            let epoch = Int(position.rounded(.down))
            return milestones.reduce(1) { factor, milestone in epoch >= milestone ? factor * gamma : factor }
        case .cosine(let floor):
            let progress = min(max(position / Double(max(totalEpochs, 1)), 0), 1)
            return floor + (1 - floor) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }

    /// The rate to use for the optimizer step at `step` (0-based) of `steps` in 0-based `epoch`.
    public func learningRate(base: Double, epoch: Int, step: Int, steps: Int, totalEpochs: Int) -> Double {
        base * factor(position: Double(epoch) + Double(step) / Double(max(steps, 1)), totalEpochs: totalEpochs)
    }
}
