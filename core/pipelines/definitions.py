"""Workflow definitions: create, version, list, delete, and load the ones committed under `definitions/`.

Every version is kept; runs pin (workflow id, version), so editing a definition never changes a run.
A workflow belongs to its creator (`system` for the files loaded at start-up, None for workflows made before owners
were recorded): changing or deleting it needs the owner or an admin (core/access.py), and an id stays its owner's
even after a delete, so nobody can take over a deleted workflow's id and with it its runs' logs. Definitions
themselves are readable by everyone signed in (they say what a run does and which inputs it takes); `shared_with`
names users who may read the runs' logs and outputs as the owner does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from core.access import SYSTEM, SYSTEM_OWNER, Caller, require_write
from core.db import get_engine, session_scope, utcnow
from core.dsl.models import WorkflowDefinition
from core.dsl.validate import DefinitionError, load_file, parse_definition
from core.errors import NotFound, ValidationFailed
from core.ids import new_id
from core.listing import Page, PageRequest, paginate
from core.pipelines.tables import RunRow, WorkflowRow, WorkflowVersionRow
from core.sharing import check_shared_with

log = logging.getLogger("stellarflow.workflows")

SORTABLE = {"createdAt": WorkflowRow.created_at, "updatedAt": WorkflowRow.updated_at, "name": WorkflowRow.name}
FILTERABLE = {"name": WorkflowRow.name, "status": WorkflowRow.status}


class WorkflowStats(BaseModel):
    totalRuns: int = 0
    successRate: float | None = None
    avgDuration: int | None = None  # milliseconds over finished runs


class WorkflowInfo(BaseModel):
    id: str
    name: str
    description: str | None
    status: str
    version: int
    contentHash: str
    source: str
    owner: str | None = None
    sharedWith: list[str] = []
    createdAt: datetime
    updatedAt: datetime
    nextRun: datetime | None = None
    lastRun: datetime | None = None
    commit: str | None = None  # the git commit this version came from (definitions synced from a source)
    stats: WorkflowStats
    definition: dict[str, Any]


class WorkflowAccess(BaseModel):
    """Who a workflow's runs are visible to besides their starter (core/pipelines/runs.py)."""

    owner: str | None
    shared_with: list[str]


def content_hash(definition: WorkflowDefinition) -> str:
    canonical = json.dumps(definition.dump(), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse(body: dict[str, Any] | str, *, source: str | None = None) -> WorkflowDefinition:
    try:
        return parse_definition(body, source=source)
    except DefinitionError as err:
        raise ValidationFailed(
            "Workflow definition is invalid", details=[issue.as_detail() for issue in err.issues]
        ) from None


def _split_sharing(body: dict[str, Any] | str | WorkflowDefinition) \
        -> tuple[dict[str, Any] | str | WorkflowDefinition, list[str] | None]:
    """A body may carry `sharedWith` beside the definition's own fields: not part of the definition (nor of its
    content hash), it is the workflow's sharing list. A YAML text body is validated as text (errors carry its line
    numbers), unless it carries `sharedWith`."""
    if isinstance(body, str):
        import yaml

        try:
            loaded = yaml.safe_load(body)
        except yaml.YAMLError:
            return body, None  # parse() reports it with the line
        if isinstance(loaded, dict) and "sharedWith" in loaded:
            return _split_sharing(loaded)
        return body, None
    if isinstance(body, dict) and "sharedWith" in body:
        rest = {key: value for key, value in body.items() if key != "sharedWith"}
        names = body["sharedWith"]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValidationFailed("Workflow definition is invalid", details=[{
                "field": "sharedWith", "constraint": "type", "message": "a list of usernames"}])
        return rest, check_shared_with(names, "sharedWith")
    return body, None


def create_workflow(body: dict[str, Any] | str | WorkflowDefinition, *, caller: Caller,
                    workflow_id: str | None = None) -> WorkflowInfo:
    """A new workflow owned by the caller."""
    body, shared = _split_sharing(body)
    definition = body if isinstance(body, WorkflowDefinition) else parse(body)
    with session_scope() as session:
        row = _store_new(session, workflow_id or new_id("wf"), definition, source="api", owner=caller.id,
                         shared_with=shared or [])
        return _info(session, row)


def put_workflow(workflow_id: str, body: dict[str, Any] | str | WorkflowDefinition, *, caller: Caller,
                 source: str = "api", commit: str | None = None, source_path: str | None = None) -> WorkflowInfo:
    """Store a new version when the content changed (creating the workflow, owned by the caller, if the id is
    free). An existing id — deleted or not — is changed by its owner or an admin only (403)."""
    body, shared = _split_sharing(body)
    definition = body if isinstance(body, WorkflowDefinition) else parse(body)
    digest = content_hash(definition)
    owner = SYSTEM_OWNER if caller == SYSTEM else caller.id
    with session_scope() as session:
        row = session.get(WorkflowRow, workflow_id)
        if row is not None:
            require_write(caller, row.owner, "workflow", workflow_id)
        if row is None:
            row = _store_new(session, workflow_id, definition, source=source, owner=owner, shared_with=shared or [],
                             commit=commit, source_path=source_path)
            return _info(session, row)
        revived = row.status == "deleted"
        if revived:  # the id comes back to life with its next version: the old versions stay pinned by their runs
            row.status, row.owner = "active", row.owner or owner
        if row.owner is None and caller == SYSTEM:
            row.owner = SYSTEM_OWNER  # a file's workflow stored before owners were recorded
        if shared is not None:
            row.shared_with = shared
        session.add(row)
        if revived or row.content_hash != digest:
            row.version += 1
            row.content_hash, row.name, row.description = digest, definition.name, definition.description
            row.updated_at, row.source = utcnow(), source
            session.add(row)
            session.add(
                WorkflowVersionRow(
                    workflow_id=row.id, version=row.version, content_hash=digest, definition=definition.dump(),
                    source_commit=commit, source_path=source_path,
                )
            )
        return _info(session, row)


def get_workflow(workflow_id: str) -> WorkflowInfo:
    with session_scope() as session:
        return _info(session, _active(session, workflow_id))


def workflow_access(workflow_ids: list[str]) -> dict[str, WorkflowAccess]:
    """Owner and sharing of these workflows (deleted ones included: their runs stay visible as they were)."""
    if not workflow_ids:
        return {}
    with session_scope() as session:
        rows = session.exec(select(WorkflowRow.id, WorkflowRow.owner, WorkflowRow.shared_with)
                            .where(WorkflowRow.id.in_(set(workflow_ids)))).all()  # type: ignore[attr-defined]
        return {wid: WorkflowAccess(owner=owner, shared_with=shared or []) for wid, owner, shared in rows}


def get_definition(workflow_id: str, version: int | None = None) -> tuple[WorkflowInfo, WorkflowDefinition]:
    with session_scope() as session:
        row = _active(session, workflow_id)
        wanted = version or row.version
        stored = session.get(WorkflowVersionRow, (workflow_id, wanted))
        if stored is None:
            raise NotFound("workflow version", f"{workflow_id}@{wanted}")
        return _info(session, row), WorkflowDefinition.model_validate(stored.definition)


_PARSED: dict[tuple[str, int, str], tuple[WorkflowDefinition, dict[str, Any]]] = {}


def definition_for_run(workflow_id: str,
                       version: int | None = None) -> tuple[int, WorkflowDefinition, dict[str, Any], str | None]:
    """(version, definition, its dump, the workflow's owner) to start a run with: two primary-key reads, and the
    parsed definition cached per (id, version, content hash) — versions never change — with its `dump()` (treat
    both as read-only).
    `get_definition` also counts the workflow's runs, which a start does not need and which grows with every run."""
    workflows_t, versions_t = WorkflowRow.__table__, WorkflowVersionRow.__table__
    with get_engine().connect() as connection:  # one query, no ORM session: this is on every start's path
        found = connection.execute(
            sa_select(workflows_t.c.status, workflows_t.c.version, workflows_t.c.owner,
                      versions_t.c.version.label("pinned"),
                      versions_t.c.content_hash)
            .select_from(workflows_t.outerjoin(versions_t, (versions_t.c.workflow_id == workflows_t.c.id)
                                               & (versions_t.c.version == (version or workflows_t.c.version))))
            .where(workflows_t.c.id == workflow_id)).first()
        if found is None or found.status == "deleted":
            raise NotFound("workflow", workflow_id)
        wanted = version or found.version
        if found.pinned is None:
            raise NotFound("workflow version", f"{workflow_id}@{wanted}")
        key = (workflow_id, wanted, found.content_hash)
        cached = _PARSED.get(key)
        if cached is None:
            definition = connection.execute(sa_select(versions_t.c.definition).where(
                versions_t.c.workflow_id == workflow_id, versions_t.c.version == wanted)).scalar_one()
            if len(_PARSED) >= 512:
                _PARSED.clear()
            parsed = WorkflowDefinition.model_validate(definition)
            cached = _PARSED[key] = (parsed, parsed.dump())
    return wanted, cached[0], cached[1], found.owner


def list_workflows(page: PageRequest) -> Page[WorkflowInfo]:
    with session_scope() as session:
        query = select(WorkflowRow).where(WorkflowRow.status != "deleted")
        rows = paginate(session, query, page, sortable=SORTABLE, default="-createdAt", id_column=WorkflowRow.id,
                        filterable=FILTERABLE)
        return rows.map(lambda row: _info(session, row))


def delete_workflow(workflow_id: str, *, caller: Caller) -> None:
    """Its owner or an admin. The id stays theirs (runs keep the version they pinned)."""
    with session_scope() as session:
        row = _active(session, workflow_id)
        require_write(caller, row.owner, "workflow", workflow_id, "delete")
        row.status, row.updated_at = "deleted", utcnow()
        session.add(row)


def load_directory(directory: Path) -> list[tuple[Path, str | None]]:
    """Load `*.yaml`/`*.yml` as workflows (id = file stem), owned by the system (admins may change them). A bad file
    is reported and skipped, never fatal."""
    results: list[tuple[Path, str | None]] = []
    if not directory.is_dir():
        return results
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            definition = load_file(path)
        except DefinitionError as err:
            log.error("definition %s is invalid and was not loaded:\n%s", path, err)
            results.append((path, str(err)))
            continue
        put_workflow(path.stem, definition, caller=SYSTEM, source=f"file:{path.name}")
        results.append((path, None))
    return results


# ---- internals ---------------------------------------------------------------------------------------


def _store_new(session: Session, workflow_id: str, definition: WorkflowDefinition, *, source: str,
               owner: str | None, shared_with: list[str], commit: str | None = None,
               source_path: str | None = None) -> WorkflowRow:
    digest = content_hash(definition)
    row = WorkflowRow(
        id=workflow_id,
        name=definition.name,
        description=definition.description,
        version=1,
        content_hash=digest,
        source=source,
        owner=owner,
        shared_with=shared_with,
    )
    session.add(row)
    session.add(
        WorkflowVersionRow(workflow_id=workflow_id, version=1, content_hash=digest, definition=definition.dump(),
                           source_commit=commit, source_path=source_path)
    )
    session.flush()
    return row


def _active(session: Session, workflow_id: str) -> WorkflowRow:
    row = session.get(WorkflowRow, workflow_id)
    if row is None or row.status == "deleted":
        raise NotFound("workflow", workflow_id)
    return row


def _stats(session: Session, workflow_id: str) -> WorkflowStats:
    rows = session.exec(
        select(RunRow.status, RunRow.started_at, RunRow.ended_at).where(RunRow.workflow_id == workflow_id)
    ).all()
    finished = [r for r in rows if r[0] in ("succeeded", "failed", "cancelled")]
    durations = [(r[2] - r[1]).total_seconds() * 1000 for r in finished if r[1] and r[2]]
    return WorkflowStats(
        totalRuns=len(rows),
        successRate=round(sum(1 for r in finished if r[0] == "succeeded") / len(finished), 4) if finished else None,
        avgDuration=round(sum(durations) / len(durations)) if durations else None,
    )


def _info(session: Session, row: WorkflowRow) -> WorkflowInfo:
    stored = session.get(WorkflowVersionRow, (row.id, row.version))
    return WorkflowInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        status=row.status,
        version=row.version,
        contentHash=row.content_hash,
        source=row.source,
        owner=row.owner,
        sharedWith=row.shared_with or [],
        createdAt=row.created_at,
        updatedAt=row.updated_at,
        stats=_stats(session, row.id),
        definition=stored.definition if stored else {},
        commit=stored.source_commit if stored else None,
    )
