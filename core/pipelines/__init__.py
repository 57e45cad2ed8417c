"""Pipelines: workflow definitions (versioned), their runs (PipelineWorkflow) and the runs' projection."""
