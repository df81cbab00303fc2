// MaskNetStages
//
// The built-in stage kinds: each binds one library call to the pipeline engine.
