/// How heavy a kind's stages are, as an executor sees it: which resources to ask for by default, and
/// whether the stage may run on the driver instead of a cluster node (as Snakemake's `localrules`).
public enum StageWorkload: String, Sendable, CaseIterable {
    /// Seconds of bookkeeping (splits, weight transfer, BN freezing): run where the driver runs.
    case cheap
    /// Model evaluation, inference, data generation: moderate time and memory.
    case evaluation
    /// Model training: the most time and memory, and checkpoints that survive a resubmission.
    case training
}
