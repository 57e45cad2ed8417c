"""The names that cross process boundaries: workflow types and activity types.

Workflows schedule activities and child workflows by these names, the worker registers them under these names,
services start workflows by them, and the Temporal UI shows them. A name is part of every recorded history: renaming
one breaks the runs in flight (the replay test in tests/test_replay.py would say so), so a rename needs
`workflow.patched` and both names registered until the old runs are gone.
"""

from __future__ import annotations

from typing import Final

# ---- workflow types ----------------------------------------------------------------------------------------
PIPELINE_WORKFLOW: Final = "PipelineWorkflow"
AGENT_WORKFLOW: Final = "AgentWorkflow"
TASK_WORKFLOW: Final = "TaskWorkflow"
SWARM_WORKFLOW: Final = "SwarmWorkflow"
MEMORY_SWEEP_WORKFLOW: Final = "MemorySweepWorkflow"
CONCURRENCY_GROUP_WORKFLOW: Final = "ConcurrencyGroupWorkflow"
SYNC_SOURCE_WORKFLOW: Final = "SyncSourceWorkflow"
ARTIFACT_SWEEP_WORKFLOW: Final = "ArtifactSweepWorkflow"
RECONCILE_WORKFLOW: Final = "ReconcileWorkflow"
GITHUB_ANALYSIS_WORKFLOW: Final = "GitHubAnalysisWorkflow"
PR_ENHANCE_WORKFLOW: Final = "PullRequestEnhanceWorkflow"
METRICS_SAMPLE_WORKFLOW: Final = "MetricsSampleWorkflow"
DIAGNOSTICS_WORKFLOW: Final = "DiagnosticsWorkflow"
ORCHESTRATION_WORKFLOW: Final = "OrchestrationWorkflow"
TRAINING_WORKFLOW: Final = "TrainingWorkflow"

# ---- activity types ----------------------------------------------------------------------------------------
# pipeline actions
EXECUTE_COMMAND: Final = "execute_command"
HTTP_REQUEST: Final = "http_request"
DEPLOY: Final = "deploy"
NOTIFY: Final = "notify"
MEMORY_STORE: Final = "memory_store"
MEMORY_READ: Final = "memory_read"
SEND_NOTIFICATIONS: Final = "send_notifications"
# pipelines: sub-workflows, artifacts, re-runs, concurrency groups
RESOLVE_CHILD_RUN: Final = "resolve_child_run"
STORE_ARTIFACTS: Final = "store_artifacts"
PREPARE_RERUN_WORKSPACE: Final = "prepare_rerun_workspace"
REQUEST_LOCK: Final = "request_lock"
OPEN_WORKFLOWS: Final = "open_workflows"
# definitions synced from git
SYNC_SOURCE: Final = "sync_source"
# GitHub analyses and PR enhancements (activities/github.py)
GITHUB_CHECKOUT: Final = "github_checkout"
GITHUB_RUN_ANALYZER: Final = "github_run_analyzer"
GITHUB_CLEANUP: Final = "github_cleanup"
GITHUB_FETCH_PULL: Final = "github_fetch_pull"
GITHUB_POST_REVIEW: Final = "github_post_review"
GITHUB_POST_STATUS: Final = "github_post_status"
GITHUB_COVERAGE: Final = "github_coverage"
GITHUB_PUSH: Final = "github_push"
GITHUB_UPDATE_PULL: Final = "github_update_pull"
# agent tasks
PROVISION_WORKSPACE: Final = "provision_workspace"
EXECUTE_TASK: Final = "execute_task"
ROLLBACK_WORKSPACE: Final = "rollback_workspace"
# orchestrations: a phase's files handed to the next phase
GATHER_HANDOVER: Final = "gather_handover"
# neural training (core/neural)
TRAIN_MODEL: Final = "train_model"
# maintenance
SWEEP_EXPIRED_MEMORY: Final = "sweep_expired_memory"
SWEEP_EXPIRED_ARTIFACTS: Final = "sweep_expired_artifacts"
RECONCILE_PROJECTIONS: Final = "reconcile_projections"
SAMPLE_HOST_METRICS: Final = "sample_host_metrics"
BUILD_DIAGNOSTICS: Final = "build_diagnostics"
# the read model: every workflow's events and projection, then its outgoing signals
RECORD: Final = "record"
# The record activity's names before it was one activity. Runs started before that still schedule these (their
# histories say so), so the worker keeps them registered; drop them once no such run is left.
LEGACY_RECORD_RUN: Final = "record_run"
LEGACY_RECORD_ENTITY: Final = "record_entity"
