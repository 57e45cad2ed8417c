"""Git sources of definitions: create, list, read, delete, ask for a sync, and apply a checkout (the sync's second
half, run by the `sync_source` activity after it cloned the branch). A source belongs to its creator; the workflows
it creates belong to the same user (their ids are the files' names), so syncing can only touch what that user may
change: a file whose id another user owns is reported, not applied."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from sqlmodel import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from core.access import Caller, may_read, require_write
from core.db import session_scope, utcnow
from core.dsl.validate import DefinitionError, parse_definition
from core.egress import EgressPolicy, parse_ip
from core.errors import DomainError, NotFound, Unavailable, ValidationFailed
from core.ids import new_id
from core.names import SYNC_SOURCE_WORKFLOW
from core.pipelines import definitions
from core.pipelines.owners import owner_caller
from core.pipelines.tables import WorkflowRow
from core.sealing import seal, unseal
from core.settings import Settings
from core.sources import git
from core.sources.contracts import SyncRequest, SyncResult
from core.sources.tables import SourceRow

log = logging.getLogger("stellarflow.sources")
TOKEN_PURPOSE = "source-token"


class SourceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000)
    branch: str = Field(default="main", max_length=200)
    folder: str = Field(default="definitions", max_length=500)
    token: str | None = Field(default=None, max_length=4000, description="held server-side, never shown again")
    webhookSecret: str | None = Field(default=None, description="name of your webhook secret that may sign pushes")
    interval: float | None = Field(default=None, ge=0, le=30 * 86400,
                                   description="seconds between scheduled syncs; 0 = only on push and on request")


class SourceInfo(BaseModel):
    id: str
    name: str
    url: str
    branch: str
    folder: str
    owner: str
    hasToken: bool
    webhookSecret: str | None
    interval: float
    status: str
    lastCommit: str | None
    lastSyncAt: datetime | None
    lastResult: dict[str, Any]
    createdAt: datetime


def _info(row: SourceRow) -> SourceInfo:
    return SourceInfo(id=row.id, name=row.name, url=row.url, branch=row.branch, folder=row.folder, owner=row.owner,
                      hasToken=row.sealed_token is not None, webhookSecret=row.webhook_secret,
                      interval=row.interval_s, status=row.status, lastCommit=row.last_commit,
                      lastSyncAt=row.last_sync_at, lastResult=dict(row.last_result or {}), createdAt=row.created_at)


def check_address(url: str, settings: Settings) -> None:
    """The same address rule as every outbound request (core/egress.py): a host resolving to an internal address
    is refused unless the operator allowlisted it. Checked here for a clear 400, and again before every clone."""
    parts = urlsplit(url)
    if parts.scheme == "file" or not parts.hostname:
        return
    rules = EgressPolicy.from_entries(settings.egress_allow)
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except OSError:
        raise ValidationFailed(f"The source's host {host} does not resolve", details=[{"field": "url"}]) from None
    for info in infos:
        ip = parse_ip(str(info[4][0]))
        reason = rules.check(host, ip) if ip is not None else "not an IP address"
        if reason is not None:
            raise ValidationFailed(f"refused: {host} resolves to {reason}; internal addresses need the operator's "
                                   "STELLARFLOW_EGRESS_ALLOW", details=[{"field": "url", "constraint": "egress"}])


def create_source(settings: Settings, body: SourceCreate, *, caller: Caller) -> SourceInfo:
    git.check_url(body.url, admin=caller.is_admin)
    git.check_ref(body.branch, body.folder.strip("/") or ".")
    check_address(body.url, settings)
    source_id = new_id("src")
    row = SourceRow(id=source_id, owner=caller.id, name=body.name, url=body.url, branch=body.branch,
                    folder=body.folder.strip("/") or ".", webhook_secret=body.webhookSecret,
                    interval_s=settings.source_sync_interval_s if body.interval is None else body.interval)
    if body.token:
        row.sealed_token = seal(settings, TOKEN_PURPOSE, source_id, body.token)
    with session_scope() as session:
        session.add(row)
        session.flush()
        return _info(row)


def list_sources(*, caller: Caller) -> list[SourceInfo]:
    """Everyone signed in sees sources' metadata (never tokens), like definitions."""
    with session_scope() as session:
        return [_info(r) for r in session.exec(select(SourceRow).order_by(SourceRow.created_at)).all()]


def get_source(source_id: str) -> SourceInfo:
    with session_scope() as session:
        row = session.get(SourceRow, source_id)
        if row is None:
            raise NotFound("source", source_id)
        return _info(row)


def delete_source(source_id: str, *, caller: Caller) -> None:
    """Its owner or an admin. The workflows it created stay (as they are)."""
    with session_scope() as session:
        row = session.get(SourceRow, source_id)
        if row is None:
            raise NotFound("source", source_id)
        require_write(caller, row.owner, "source", source_id, "delete")
        session.delete(row)


def sync_target(source_id: str, settings: Settings) -> tuple[SourceInfo, str | None]:
    """The source and its token (for the sync activity only)."""
    with session_scope() as session:
        row = session.get(SourceRow, source_id)
        if row is None:
            raise NotFound("source", source_id)
        token = unseal(settings, TOKEN_PURPOSE, row.id, row.sealed_token) if row.sealed_token else None
        row.status = "syncing"
        session.add(row)
        return _info(row), token


async def start_sync(client: Client, settings: Settings, source_id: str, *, reason: str,
                     caller: Caller | None = None) -> str:
    """Start a SyncSourceWorkflow now (its id: `sync-<source>-<ulid>`); `caller`, when given, must own the source."""
    info = await asyncio.to_thread(get_source, source_id)
    if caller is not None:
        require_write(caller, info.owner, "source", source_id, "sync")
    workflow_id = new_id(f"sync-{source_id}")
    try:
        await client.start_workflow(SYNC_SOURCE_WORKFLOW, SyncRequest(source_id=source_id, reason=reason),
                                    id=workflow_id, task_queue=settings.task_queue,
                                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                    static_summary=f"sync {info.name} ({info.branch}) · {reason}"[:400])
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the sync: {err.message}") from None
    return workflow_id


def schedule_id(source_id: str) -> str:
    return f"stellarflow-source-{source_id}"


async def reconcile_schedule(client: Client, settings: Settings, source_id: str) -> None:
    """The source's sync schedule: every `interval` seconds (none at 0 or once the source is deleted)."""
    with session_scope() as session:
        row = session.get(SourceRow, source_id)
        interval = row.interval_s if row is not None else 0
    handle = client.get_schedule_handle(schedule_id(source_id))
    if not interval:
        try:
            await handle.delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    wanted = Schedule(
        action=ScheduleActionStartWorkflow(SYNC_SOURCE_WORKFLOW, SyncRequest(source_id=source_id, reason="schedule"),
                                           id=f"sync-{source_id}", task_queue=settings.task_queue,
                                           execution_timeout=timedelta(minutes=30)),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=interval))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    try:
        await client.create_schedule(schedule_id(source_id), wanted)
    except ScheduleAlreadyRunningError:
        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=wanted)

        await handle.update(replace)


def sources_for_push(payload: dict[str, Any], branch: str | None, global_ok: bool,
                     named: set[tuple[str | None, str]]) -> list[SourceInfo]:
    """Sources of the pushed repository and branch, when the delivery is signed for them."""
    repository = payload.get("repository") or {}
    urls = {str(repository.get(k) or "").lower().removesuffix(".git").rstrip("/")
            for k in ("clone_url", "html_url", "git_url", "ssh_url", "url")} - {""}
    out = []
    with session_scope() as session:
        for row in session.exec(select(SourceRow)).all():
            if row.branch != branch or row.url.lower().removesuffix(".git").rstrip("/") not in urls:
                continue
            if global_ok or (row.owner, row.webhook_secret or "") in named:
                out.append(_info(row))
    return out


def source_webhook_secrets() -> set[tuple[str | None, str]]:
    with session_scope() as session:
        return {(owner, name) for owner, name in session.exec(select(SourceRow.owner, SourceRow.webhook_secret))
                if name}


def apply_checkout(source: SourceInfo, root: Path, commit: str) -> SyncResult:
    """Validate every definition in the source's folder of a checkout and create or version the changed ones (id =
    file name); invalid files are reported with file and line and leave their workflow's current version alone;
    workflows whose file is gone are deleted. Idempotent: a second apply of one commit changes nothing."""
    result = SyncResult(source_id=source.id, commit=commit)
    folder = (root / source.folder).resolve()
    if not folder.is_relative_to(root.resolve()) or not folder.is_dir():
        result.error = f"the folder {source.folder!r} does not exist on {source.branch} at {commit[:12]}"
        return result
    caller = owner_caller(source.owner)
    prefix = f"git:{source.id}:"
    seen: set[str] = set()
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        relative = path.relative_to(root.resolve()).as_posix()
        workflow_id = path.stem
        seen.add(workflow_id)
        try:
            text = path.read_text(encoding="utf-8")
            definition = parse_definition(text, source=relative)
        except DefinitionError as err:
            for issue in err.issues:
                result.errors.append({"file": relative, "line": issue.line, "field": issue.field,
                                      "message": issue.message})
            continue
        except (OSError, UnicodeDecodeError) as err:
            result.errors.append({"file": relative, "line": None, "message": f"cannot read: {err}"})
            continue
        before = _version_of(workflow_id)
        try:
            info = definitions.put_workflow(workflow_id, definition, caller=caller, source=prefix + relative,
                                            commit=commit, source_path=relative)
        except DomainError as err:
            result.errors.append({"file": relative, "line": None, "message": str(err)})
            continue
        if before is None:
            result.created.append(info.id)
        elif info.version != before:
            result.versioned.append(info.id)
        else:
            result.unchanged.append(info.id)
    with session_scope() as session:
        stale = session.exec(select(WorkflowRow.id).where(WorkflowRow.status == "active",
                                                          WorkflowRow.source.startswith(prefix))).all()  # type: ignore
    for workflow_id in sorted(set(stale) - seen):
        definitions.delete_workflow(workflow_id, caller=caller)
        result.deleted.append(workflow_id)
    return result


def _version_of(workflow_id: str) -> int | None:
    with session_scope() as session:
        row = session.get(WorkflowRow, workflow_id)
        return None if row is None or row.status == "deleted" else row.version


def record_result(result: SyncResult) -> None:
    with session_scope() as session:
        row = session.get(SourceRow, result.source_id)
        if row is None:
            return
        row.status = "failed" if result.error else ("ok" if not result.errors else "ok-with-errors")
        row.last_sync_at = utcnow()
        if result.commit and not result.error:
            row.last_commit = result.commit
        row.last_result = result.model_dump(mode="json")
        session.add(row)


def readable(info: SourceInfo, caller: Caller) -> bool:
    return may_read(caller, info.owner)
