"""Receiving webhooks, matching them to workflows (and git sources), starting runs, recording deliveries; and the
webhook secrets users keep on the server.

Authentication is the signature: a delivery whose `X-Hub-Signature-256` matches no secret it could be meant for is
refused with 401 and leaves no trace. A GitHub delivery may be signed with the global secret
(`STELLARFLOW_GITHUB_WEBHOOK_SECRET`) or with a workflow's own (`secret:` on its trigger, the name of one of its
owner's webhook secrets); a trigger naming a secret fires only for deliveries signed with it, a trigger without one
only for deliveries signed with the global secret. The delivery id (`X-GitHub-Delivery`) makes a redelivery start
nothing new: it is answered with the runs the first one started.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio.client import Client

from core.access import SYSTEM_OWNER, Caller, may_read
from core.db import session_scope, utcnow
from core.dsl.models import Trigger, WorkflowDefinition
from core.dsl.validate import DefinitionError
from core.errors import DomainError, Forbidden, NotFound, SignatureRejected, ValidationFailed
from core.ids import id_at, new_id
from core.listing import Page, PageRequest, paginate
from core.pipelines.contracts import TriggerInfo
from core.pipelines.launch import RunOptions
from core.pipelines.owners import owner_caller
from core.pipelines.tables import WorkflowRow, WorkflowVersionRow
from core.sealing import seal, unseal
from core.settings import Settings
from core.webhooks import filters
from core.webhooks.github import SIGNATURE_HEADER, context, verify
from core.webhooks.tables import DeliveryRow, WebhookSecretRow

log = logging.getLogger("stellarflow.webhooks")
SECRET_PURPOSE = "webhook-secret"
SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
EVENTS = frozenset({"push", "pull_request", "release", "workflow_dispatch", "ping"})
SORTABLE = {"receivedAt": DeliveryRow.received_at}
FILTERABLE = {"status": DeliveryRow.status, "kind": DeliveryRow.kind, "event": DeliveryRow.event}


class Delivery(BaseModel):
    id: str
    kind: str
    deliveryId: str
    event: str | None
    action: str | None
    repository: str | None
    ref: str | None
    target: str | None
    status: str
    reason: str | None
    matched: list[str]
    runs: list[str]
    syncs: list[str]
    details: dict[str, Any]
    receivedAt: datetime
    duplicate: bool = False


class SecretInfo(BaseModel):
    name: str
    owner: str
    createdAt: datetime
    updatedAt: datetime


# ---- secrets ----------------------------------------------------------------------------------------------------


def set_secret(settings: Settings, name: str, value: str, *, caller: Caller, owner: str | None = None) -> SecretInfo:
    """Store (or replace) a webhook secret named `name` for the caller — or, for admins, for `owner` (`system`:
    the secrets of workflows loaded from files). The value is never shown again."""
    if not SECRET_NAME.match(name):
        raise ValidationFailed("A secret name is 1-64 letters, digits, `_`, `.` or `-`",
                               details=[{"field": "name", "constraint": "pattern"}])
    if len(value) < 16:
        raise ValidationFailed("A webhook secret must be at least 16 characters",
                               details=[{"field": "value", "constraint": "min_length"}])
    owner = owner or caller.id
    if owner != caller.id and not caller.is_admin:
        raise Forbidden("Only admins may set another owner's webhook secrets")
    key = f"{owner}:{name}"
    with session_scope() as session:
        row = session.get(WebhookSecretRow, key) or WebhookSecretRow(id=key, owner=owner, name=name, sealed=b"")
        row.sealed, row.updated_at = seal(settings, SECRET_PURPOSE, key, value), utcnow()
        session.add(row)
        session.flush()
        return SecretInfo(name=row.name, owner=row.owner, createdAt=row.created_at, updatedAt=row.updated_at)


def list_secrets(*, caller: Caller) -> list[SecretInfo]:
    with session_scope() as session:
        query = select(WebhookSecretRow)
        if not caller.is_admin:
            query = query.where(WebhookSecretRow.owner == caller.id)
        return [SecretInfo(name=r.name, owner=r.owner, createdAt=r.created_at, updatedAt=r.updated_at)
                for r in session.exec(query.order_by(WebhookSecretRow.owner, WebhookSecretRow.name)).all()]


def delete_secret(name: str, *, caller: Caller, owner: str | None = None) -> None:
    owner = owner or caller.id
    with session_scope() as session:
        row = session.get(WebhookSecretRow, f"{owner}:{name}")
        if row is None or (row.owner != caller.id and not caller.is_admin):
            raise NotFound("webhook secret", name)  # another user's secrets are invisible
        session.delete(row)


def secret_value(settings: Settings, owner: str | None, name: str) -> bytes | None:
    key = f"{owner or SYSTEM_OWNER}:{name}"
    with session_scope() as session:
        row = session.get(WebhookSecretRow, key)
        if row is None:
            return None
        return unseal(settings, SECRET_PURPOSE, key, row.sealed).encode()


# ---- matching -------------------------------------------------------------------------------------------------


class _Candidate(BaseModel):
    workflow_id: str
    owner: str | None
    definition: WorkflowDefinition


def _active_definitions() -> list[_Candidate]:
    with session_scope() as session:
        rows = session.exec(
            select(WorkflowRow, WorkflowVersionRow)
            .where(WorkflowRow.status == "active", WorkflowVersionRow.workflow_id == WorkflowRow.id,
                   WorkflowVersionRow.version == WorkflowRow.version)).all()
        out = []
        for workflow, version in rows:
            triggers = version.definition.get("triggers") or []
            if any(isinstance(t, dict) and t.get("type") in ("github", "webhook") for t in triggers):
                out.append(_Candidate(workflow_id=workflow.id, owner=workflow.owner,
                                      definition=WorkflowDefinition.model_validate(version.definition)))
        return out


def _payload(body: bytes, content_type: str | None) -> Any:
    if content_type and "application/x-www-form-urlencoded" in content_type:
        form = parse_qs(body.decode("utf-8", errors="replace"))
        body = (form.get("payload") or [""])[0].encode()
    try:
        return json.loads(body) if body.strip() else {}
    except ValueError:
        raise ValidationFailed("The webhook body must be JSON") from None


def _verified(settings: Settings, candidates: list[_Candidate], body: bytes, signature: str | None) \
        -> tuple[bool, set[tuple[str | None, str]]]:
    """Whether the global secret verifies the body, and which (owner, name) secrets do."""
    global_ok = settings.github_webhook_secret is not None and verify(
        settings.github_webhook_secret.get_secret_value().encode(), body, signature)
    named: set[tuple[str | None, str]] = set()
    wanted = {(c.owner, t.secret) for c in candidates for t in c.definition.triggers if t.secret}
    from core.sources.service import source_webhook_secrets

    wanted |= source_webhook_secrets()
    for owner, name in wanted:
        secret = secret_value(settings, owner, name) if name else None
        if secret is not None and verify(secret, body, signature):
            named.add((owner, name))
    return global_ok, named


def _signed_for(trigger: Trigger, owner: str | None, global_ok: bool, named: set[tuple[str | None, str]]) -> bool:
    if trigger.secret:
        return (owner, trigger.secret) in named
    return global_ok


def _claim(kind: str, key: str, **fields: Any) -> tuple[DeliveryRow, bool]:
    """The delivery's row: new (claimed now) or the one a first delivery with this id left."""
    row = DeliveryRow(id=new_id("dlv"), kind=kind, delivery_key=key, **fields)
    try:
        with session_scope() as session:
            session.add(row)
            session.flush()
            session.expunge(row)
        return row, True
    except IntegrityError:
        with session_scope() as session:
            found = session.exec(select(DeliveryRow).where(DeliveryRow.kind == kind,
                                                           DeliveryRow.delivery_key == key)).one()
            session.expunge(found)
            return found, False


def _save(row: DeliveryRow) -> None:
    with session_scope() as session:
        stored = session.get(DeliveryRow, row.id)
        if stored is not None:
            for name in ("status", "reason", "matched", "runs", "syncs", "details", "owners"):
                setattr(stored, name, getattr(row, name))
            session.add(stored)


def _view(row: DeliveryRow, duplicate: bool = False) -> Delivery:
    return Delivery(id=row.id, kind=row.kind, deliveryId=row.delivery_key, event=row.event, action=row.action,
                    repository=row.repository, ref=row.ref, target=row.target, status=row.status, reason=row.reason,
                    matched=list(row.matched or []), runs=list(row.runs or []), syncs=list(row.syncs or []),
                    details=dict(row.details or {}), receivedAt=row.received_at, duplicate=duplicate)


def _run_id(delivery: str, workflow_id: str, index: int) -> str:
    """One run per (delivery, workflow, trigger), with an id derived from them: a retried start finds its run."""
    entropy = hashlib.sha256(f"{delivery}\0{workflow_id}\0{index}".encode()).digest()
    return id_at("run", int(utcnow().timestamp() * 1000), entropy)


async def _start(client: Client, settings: Settings, candidate: _Candidate, trigger_index: int, trigger: Trigger,
                 info: TriggerInfo, extra_inputs: dict[str, Any], delivery_key: str) -> str:
    from core.dsl.templating import TemplateError, render
    from core.pipelines.runs import start_run

    context = {"github": info.github, "webhook": {"payload": info.payload, "delivery": info.delivery},
               "trigger": info.summary()}
    try:  # a trigger's inputs may take values from the delivery: `ref: "{{ github.sha }}"`
        given = render(trigger.inputs, context)
    except TemplateError as err:
        raise ValidationFailed(f"trigger inputs: {err}") from None
    inputs = {**given, **{k: v for k, v in extra_inputs.items() if k in candidate.definition.inputs}}
    caller = await asyncio.to_thread(owner_caller, candidate.owner)
    run, _ = await start_run(client, settings, candidate.workflow_id, inputs, caller=caller,
                             options=RunOptions(trigger=info,
                                                run_id=_run_id(delivery_key, candidate.workflow_id, trigger_index)))
    return run.id


async def receive_github(client: Client, settings: Settings, headers: dict[str, str], body: bytes) -> Delivery:
    """A GitHub delivery: verify, record once, start the matching workflows' runs and the matching sources'
    syncs."""
    signature = headers.get(SIGNATURE_HEADER)
    event = headers.get("x-github-event") or ""
    delivery_key = headers.get("x-github-delivery") or ""
    candidates = await asyncio.to_thread(_active_definitions)
    global_ok, named = await asyncio.to_thread(_verified, settings, candidates, body, signature)
    if not global_ok and not named:
        raise SignatureRejected("The webhook signature (X-Hub-Signature-256) is missing or does not match a secret")
    if not delivery_key:
        raise ValidationFailed("X-GitHub-Delivery is required", details=[{"field": "X-GitHub-Delivery",
                                                                           "constraint": "required"}])
    payload = _payload(body, headers.get("content-type"))
    if not isinstance(payload, dict):
        raise ValidationFailed("The webhook body must be a JSON object")
    gh = context(event, payload, delivery_key)
    row, fresh = await asyncio.to_thread(
        _claim, "github", delivery_key, event=event, action=payload.get("action"), repository=gh["repository"],
        ref=gh["ref"])
    if not fresh:
        return _view(row, duplicate=True)
    try:
        await _handle_github(client, settings, row, event, payload, gh, candidates, global_ok, named)
    except Exception as err:
        row.status, row.reason = "failed", f"{type(err).__name__}: {err}"[:500]
        await asyncio.to_thread(_save, row)
        raise
    await asyncio.to_thread(_save, row)
    return _view(row)


async def _handle_github(client: Client, settings: Settings, row: DeliveryRow, event: str, payload: dict[str, Any],
                         gh: dict[str, Any], candidates: list[_Candidate], global_ok: bool,
                         named: set[tuple[str | None, str]]) -> None:
    if event == "ping":
        row.status, row.reason = "ignored", "ping: the webhook is set up"
        return
    if event not in EVENTS:
        row.status, row.reason = "ignored", f"event {event!r} is not one StellarFlow triggers on"
        return
    reasons: dict[str, str] = {}
    owners: set[str] = set()
    info = TriggerInfo(type="github", delivery=row.delivery_key, event=event, github=gh)
    dispatch_inputs = payload.get("inputs") if event == "workflow_dispatch" and isinstance(
        payload.get("inputs"), dict) else {}
    for candidate in candidates:
        for index, trigger in enumerate(candidate.definition.triggers):
            if trigger.type != "github":
                continue
            if not _signed_for(trigger, candidate.owner, global_ok, named):
                reasons.setdefault(candidate.workflow_id, "not signed with the trigger's secret")
                continue
            ok, why = filters.accepts(trigger, event, payload)
            if not ok:
                reasons.setdefault(candidate.workflow_id, why)
                continue
            reasons.pop(candidate.workflow_id, None)
            row.matched = [*row.matched, candidate.workflow_id]
            owners.add(candidate.owner or SYSTEM_OWNER)
            try:
                run_id = await _start(client, settings, candidate, index, trigger, info, dispatch_inputs,
                                      row.delivery_key)
                row.runs = [*row.runs, run_id]
            except (DomainError, DefinitionError) as err:
                reasons[candidate.workflow_id] = f"could not start: {err}"
    if event == "push":
        from core.sources.service import sources_for_push, start_sync

        branch, _ = filters.ref_parts(payload.get("ref"))
        for source in await asyncio.to_thread(sources_for_push, payload, branch, global_ok, named):
            await start_sync(client, settings, source.id, reason=f"push {row.delivery_key}")
            row.syncs = [*row.syncs, source.id]
            owners.add(source.owner)
    row.owners = sorted(owners)
    row.details = {"notMatched": reasons}
    if row.runs or row.syncs:
        row.status, row.reason = "started", None
    else:
        row.status = "no_match"
        row.reason = "no workflow matched" if not reasons else "; ".join(
            f"{wid}: {why}" for wid, why in sorted(reasons.items()))[:1000]


async def receive_generic(client: Client, settings: Settings, workflow_id: str, headers: dict[str, str],
                          body: bytes) -> Delivery:
    """`POST /api/v2/webhooks/{workflowId}`: a workflow with a `{type: webhook, secret}` trigger, signed like GitHub
    (`X-Hub-Signature-256`). The JSON body is `{{ webhook.payload }}`; its `inputs` object gives run inputs."""
    signature = headers.get(SIGNATURE_HEADER)
    candidates = [c for c in await asyncio.to_thread(_active_definitions) if c.workflow_id == workflow_id]
    hooks = [(i, t) for c in candidates for i, t in enumerate(c.definition.triggers) if t.type == "webhook"]
    verified = None
    for index, trigger in hooks:
        secret = await asyncio.to_thread(secret_value, settings, candidates[0].owner, trigger.secret or "")
        if secret is not None and verify(secret, body, signature):
            verified = (index, trigger)
            break
    if verified is None:  # no such workflow, no webhook trigger, or a bad signature: all look the same
        raise SignatureRejected("The webhook signature (X-Hub-Signature-256) is missing or does not match")
    candidate = candidates[0]
    payload = _payload(body, headers.get("content-type"))
    delivery_key = headers.get("x-stellarflow-delivery") or headers.get("x-github-delivery") or \
        "sig-" + hashlib.sha256((signature or "").encode()).hexdigest()[:32]
    row, fresh = await asyncio.to_thread(_claim, "webhook", f"{workflow_id}:{delivery_key}",
                                         event=headers.get("x-github-event") or "webhook", target=workflow_id)
    if not fresh:
        return _view(row, duplicate=True)
    index, trigger = verified
    row.matched, row.owners = [workflow_id], [candidate.owner or SYSTEM_OWNER]
    inputs = payload.get("inputs") if isinstance(payload, dict) and isinstance(payload.get("inputs"), dict) else {}
    info = TriggerInfo(type="webhook", delivery=delivery_key, event=row.event, payload=payload)
    try:
        run_id = await _start(client, settings, candidate, index, trigger, info, inputs, row.delivery_key)
        row.runs, row.status = [run_id], "started"
    except (DomainError, DefinitionError) as err:
        row.status, row.reason = "failed", f"could not start: {err}"[:1000]
        await asyncio.to_thread(_save, row)
        raise
    await asyncio.to_thread(_save, row)
    return _view(row)


def list_deliveries(page: PageRequest, *, caller: Caller) -> Page[Delivery]:
    """Admins see every delivery; others the ones that concerned their workflows or sources."""
    with session_scope() as session:
        query = select(DeliveryRow)
        rows = paginate(session, query, page, sortable=SORTABLE, default="-receivedAt", id_column=DeliveryRow.id,
                        filterable=FILTERABLE)
    if caller.is_admin:
        return rows.map(_view)
    visible = rows.map(_view)
    visible.items = [item for item, row in zip(visible.items, rows.items, strict=True)
                     if any(may_read(caller, owner) for owner in (row.owners or []))]
    return visible
