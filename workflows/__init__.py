"""Temporal workflow classes: orchestration logic only (deterministic, no I/O)."""

from workflows.agent import AgentWorkflow
from workflows.memory_sweep import MemorySweepWorkflow
from workflows.pipeline import PipelineWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.swarm import SwarmWorkflow
from workflows.task import TaskWorkflow

ALL = [PipelineWorkflow, AgentWorkflow, TaskWorkflow, SwarmWorkflow, MemorySweepWorkflow, ReconcileWorkflow]

__all__ = ["ALL", "AgentWorkflow", "MemorySweepWorkflow", "PipelineWorkflow", "ReconcileWorkflow", "SwarmWorkflow",
           "TaskWorkflow"]
