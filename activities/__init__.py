"""Side effects, one module per kind; `ALL` is what the worker registers."""

from activities.artifacts import store_artifacts, sweep_expired_artifacts
from activities.command import execute_command
from activities.concurrency import open_workflows, request_lock
from activities.deploy import deploy
from activities.executors import ALL as EXECUTOR_ACTIVITIES
from activities.github import (
    github_checkout,
    github_cleanup,
    github_coverage,
    github_fetch_pull,
    github_post_review,
    github_post_status,
    github_push,
    github_run_analyzer,
    github_update_pull,
)
from activities.http_request import http_request
from activities.memory import memory_read, memory_store, sweep_expired_memory
from activities.notifications import notify, send_notifications
from activities.orchestrations import gather_handover
from activities.reconcile import reconcile_projections
from activities.record import record, record_entity, record_run
from activities.sources import sync_source
from activities.subworkflows import prepare_rerun_workspace, resolve_child_run
from activities.system import build_diagnostics, sample_host_metrics
from activities.training import train_model

ALL = [execute_command, http_request, deploy, notify, send_notifications, record, record_run, record_entity,
       memory_store, memory_read, sweep_expired_memory, reconcile_projections, *EXECUTOR_ACTIVITIES, request_lock,
       open_workflows, resolve_child_run, prepare_rerun_workspace, store_artifacts, sweep_expired_artifacts,
       sync_source, sample_host_metrics, build_diagnostics, gather_handover, train_model, github_checkout,
       github_run_analyzer, github_cleanup, github_fetch_pull, github_post_review, github_coverage, github_push,
       github_update_pull, github_post_status]

__all__ = ["ALL"]
