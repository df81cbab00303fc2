import MaskNetStages
import PipelineEngine

/// The stage kinds the CLI accepts: the engine's built-ins plus the ML kinds of MaskNetStages.
/// The single place where kinds are listed, so that `schema`, `run` and `stage exec` agree.
func registeredStageKinds() -> KindRegistry {
    MaskNetStageKinds.registry
}
