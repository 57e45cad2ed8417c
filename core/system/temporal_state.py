"""What Temporal itself reports: who polls our task queues (DescribeTaskQueue) and what the cluster is
(GetClusterInfo, GetSystemInfo). Nothing here is inferred or invented: a field Temporal did not give is None.

A poller stays in Temporal's list for a few minutes after its worker stopped, so a worker counts as polling only
when its last poll is recent: a live worker's long poll is answered or renewed within about a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    GetClusterInfoRequest,
    GetSystemInfoRequest,
)
from temporalio.client import Client

from core.settings import Settings

RPC_TIMEOUT = timedelta(seconds=3)
POLLER_FRESH = timedelta(seconds=90)  # a long poll lasts up to ~70 s; older than this, the worker is gone
KINDS = {"workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}


class Poller(BaseModel):
    identity: str
    last_access: datetime | None = None


class QueueState(BaseModel):
    """One task queue of one kind (workflow or activity tasks), as Temporal describes it."""

    name: str
    kind: str  # workflow | activity
    pollers: list[Poller]  # the live ones (polled within POLLER_FRESH)
    stale_pollers: int = 0  # listed by Temporal, but silent for longer: stopped workers
    backlog: int | None = None  # Temporal's backlog count hint, when it reports one


class ClusterInfo(BaseModel):
    server_version: str | None = None
    cluster_name: str | None = None
    cluster_id: str | None = None
    history_shard_count: int | None = None
    persistence_store: str | None = None
    visibility_store: str | None = None
    namespace: str


def task_queues(settings: Settings) -> list[str]:
    """Every task queue our workflows and activities run on (today one: STELLARFLOW_TASK_QUEUE)."""
    return [settings.task_queue]


async def describe_queues(client: Client, settings: Settings, *, now: datetime | None = None) -> list[QueueState]:
    now = now or datetime.now(UTC)
    states = []
    for name in task_queues(settings):
        for kind, queue_type in KINDS.items():
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=name),
                                         task_queue_type=queue_type, include_task_queue_status=True),
                timeout=RPC_TIMEOUT)
            live, stale = [], 0
            for poller in response.pollers:
                seen = poller.last_access_time.ToDatetime(tzinfo=UTC) if poller.HasField("last_access_time") else None
                if seen is not None and now - seen > POLLER_FRESH:
                    stale += 1
                else:
                    live.append(Poller(identity=poller.identity, last_access=seen))
            backlog = (int(response.task_queue_status.backlog_count_hint)
                       if response.HasField("task_queue_status") else None)
            states.append(QueueState(name=name, kind=kind, pollers=live, stale_pollers=stale, backlog=backlog))
    return states


async def cluster_info(client: Client) -> ClusterInfo:
    """What the frontend says about itself. A field the server refuses (GetClusterInfo is an admin call on some
    hosted clusters) stays None."""
    info = ClusterInfo(namespace=client.namespace)
    try:
        cluster = await client.workflow_service.get_cluster_info(GetClusterInfoRequest(), timeout=RPC_TIMEOUT)
        info.server_version = cluster.server_version or None
        info.cluster_name = cluster.cluster_name or None
        info.cluster_id = cluster.cluster_id or None
        info.history_shard_count = cluster.history_shard_count or None
        info.persistence_store = cluster.persistence_store or None
        info.visibility_store = cluster.visibility_store or None
    except Exception:  # noqa: BLE001 - not allowed or not supported: GetSystemInfo below still answers
        pass
    if info.server_version is None:
        system = await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=RPC_TIMEOUT)
        info.server_version = system.server_version or None
    return info
