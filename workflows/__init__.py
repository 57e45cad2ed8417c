"""Temporal workflow classes: orchestration logic only (deterministic, no I/O)."""

from workflows.agent import AgentWorkflow
from workflows.artifact_sweep import ArtifactSweepWorkflow
from workflows.concurrency import ConcurrencyGroupWorkflow
from workflows.github_analysis import GitHubAnalysisWorkflow
from workflows.github_pr import PullRequestEnhanceWorkflow
from workflows.memory_sweep import MemorySweepWorkflow
from workflows.orchestration import OrchestrationWorkflow
from workflows.pipeline import PipelineWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.swarm import SwarmWorkflow
from workflows.sync_source import SyncSourceWorkflow
from workflows.system import DiagnosticsWorkflow, MetricsSampleWorkflow
from workflows.task import TaskWorkflow
from workflows.training import TrainingWorkflow

ALL = [PipelineWorkflow, AgentWorkflow, TaskWorkflow, SwarmWorkflow, MemorySweepWorkflow, ConcurrencyGroupWorkflow,
       SyncSourceWorkflow, ArtifactSweepWorkflow, ReconcileWorkflow, MetricsSampleWorkflow, DiagnosticsWorkflow,
       OrchestrationWorkflow, TrainingWorkflow, GitHubAnalysisWorkflow, PullRequestEnhanceWorkflow]

__all__ = ["ALL", "AgentWorkflow", "ArtifactSweepWorkflow", "ConcurrencyGroupWorkflow", "DiagnosticsWorkflow",
           "GitHubAnalysisWorkflow", "MemorySweepWorkflow", "MetricsSampleWorkflow", "OrchestrationWorkflow",
           "PipelineWorkflow", "PullRequestEnhanceWorkflow", "ReconcileWorkflow", "SwarmWorkflow",
           "SyncSourceWorkflow", "TaskWorkflow", "TrainingWorkflow"]
