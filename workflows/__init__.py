"""Temporal workflow classes: orchestration logic only (deterministic, no I/O)."""

from workflows.agent import AgentWorkflow
from workflows.artifact_sweep import ArtifactSweepWorkflow
from workflows.concurrency import ConcurrencyGroupWorkflow
from workflows.github_analysis import GitHubAnalysisWorkflow
from workflows.github_pr import PullRequestEnhanceWorkflow
from workflows.memory_sweep import MemorySweepWorkflow
from workflows.pipeline import PipelineWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.swarm import SwarmWorkflow
from workflows.sync_source import SyncSourceWorkflow
from workflows.task import TaskWorkflow

ALL = [PipelineWorkflow, AgentWorkflow, TaskWorkflow, SwarmWorkflow, MemorySweepWorkflow, ConcurrencyGroupWorkflow,
       SyncSourceWorkflow, ArtifactSweepWorkflow, ReconcileWorkflow, GitHubAnalysisWorkflow, PullRequestEnhanceWorkflow]

__all__ = ["ALL", "AgentWorkflow", "ArtifactSweepWorkflow", "ConcurrencyGroupWorkflow", "GitHubAnalysisWorkflow",
           "MemorySweepWorkflow", "PullRequestEnhanceWorkflow",
           "PipelineWorkflow", "ReconcileWorkflow", "SwarmWorkflow", "SyncSourceWorkflow", "TaskWorkflow"]
