// PipelineEngine
//
// YAML pipelines, validation, DAG, content-addressed store, scheduler, executors and run records. Knows nothing about ML.
