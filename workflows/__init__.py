"""Temporal workflow classes: orchestration logic only (deterministic, no I/O)."""

from workflows.pipeline import PipelineWorkflow

ALL = [PipelineWorkflow]

__all__ = ["ALL", "PipelineWorkflow"]
