"""Artifacts: store a step's (or a task's) files, read them back under the owner rules, list and expire them.

Reads follow what the artifact belongs to (docs/access.md): a run's artifacts are for whoever may read the run's
outputs (its starter, the workflow's owner, users it is shared with, admins); a task's for whoever may read the
task's result (owner, shared-with, admins). Everyone else gets 403, like the run's logs."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlmodel import select
from ulid import ULID

from core.access import Caller, may_read
from core.artifacts.store import store_for
from core.artifacts.tables import ArtifactRow
from core.db import session_scope
from core.errors import Forbidden, NotFound, ValidationFailed
from core.pipelines.contracts import ArtifactRequest, StoredArtifact
from core.settings import Settings, get_settings

log = logging.getLogger("stellarflow.artifacts")
MAX_FILES_PER_STEP = 200


class ArtifactInfo(BaseModel):
    id: str
    name: str
    path: str
    size: int
    sha256: str
    contentType: str
    runId: str | None
    taskId: str | None
    stepId: str | None
    createdAt: datetime
    expiresAt: datetime | None


class ArtifactTooLarge(ValueError):
    pass


def artifact_id(*parts: str) -> str:
    """A stable id for one file of one run step (or task): storing it again (a retried activity) finds it."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return f"art-{ULID.from_bytes(digest[:16])}"


def url_of(settings: Settings, artifact: str) -> str:
    return f"{settings.api_url.rstrip('/')}/api/v2/artifacts/{artifact}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def matched_files(workspace: Path, patterns: list[str]) -> list[Path]:
    """Regular files inside the workspace matching the globs (`**` recurses); nothing outside it, symlinks
    resolved first."""
    root = workspace.resolve()
    found: dict[Path, None] = {}
    for pattern in patterns:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise ValidationFailed(f"artifact path {pattern!r} must stay inside the run's workspace")
        for candidate in sorted(root.glob(pattern)):
            real = candidate.resolve()
            if real.is_file() and real.is_relative_to(root) and ".stellarflow" not in real.relative_to(root).parts:
                found.setdefault(candidate, None)
    return list(found)


def _names(files: list[Path], root: Path) -> dict[Path, str]:
    """Each file's name: its base name, or its workspace-relative path where two files share a base name."""
    base = [f.name for f in files]
    return {f: (f.name if base.count(f.name) == 1 else f.relative_to(root).as_posix()) for f in files}


def _put(settings: Settings, row: ArtifactRow, source: Path) -> None:
    store = store_for(settings)
    if not store.exists(row.storage_key):
        store.put(row.storage_key, source)


def store_run_artifacts(req: ArtifactRequest, workspace: Path,
                        settings: Settings | None = None) -> list[StoredArtifact]:
    settings = settings or get_settings()
    files = matched_files(workspace, req.paths)
    if len(files) > MAX_FILES_PER_STEP:
        raise ValidationFailed(f"{len(files)} files match the step's artifacts; at most {MAX_FILES_PER_STEP}")
    root = workspace.resolve()
    retention = req.retention_s or settings.artifact_retention_s
    stored: list[StoredArtifact] = []
    for path, name in _names(files, root).items():
        relative = path.relative_to(root).as_posix()
        size = path.stat().st_size
        if size > settings.artifact_max_bytes:
            raise ArtifactTooLarge(f"{relative} is {size} bytes; artifacts may be at most "
                                   f"{settings.artifact_max_bytes} (STELLARFLOW_ARTIFACT_MAX_BYTES)")
        digest = _sha256(path)
        ident = artifact_id("run", req.run_id, req.step_id, req.instance or "", relative)
        row = ArtifactRow(id=ident, run_id=req.run_id, workflow_id=req.workflow_id, step_id=req.step_id, name=name,
                          path=relative, size=size, sha256=digest, owner=req.owner,
                          content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                          storage_key=f"{digest[:2]}/{ident}",
                          expires_at=datetime.now(UTC) + timedelta(seconds=retention))
        _put(settings, row, path)
        _upsert(row)
        stored.append(StoredArtifact(id=ident, name=name, path=relative, size=size, sha256=digest,
                                     url=url_of(settings, ident)))
    return stored


def store_task_files(task_id: str, owner: str | None, workspace: Path, paths: list[str],
                     settings: Settings | None = None) -> dict[str, StoredArtifact]:
    """The files an agent's task created or changed, stored as the task's artifacts (relative path -> artifact).
    Files over the size cap are left out (listed, not stored)."""
    settings = settings or get_settings()
    root = workspace.resolve()
    out: dict[str, StoredArtifact] = {}
    for relative in paths:
        path = (root / relative).resolve()
        if not path.is_file() or not path.is_relative_to(root) or path.stat().st_size > settings.artifact_max_bytes:
            continue
        digest = _sha256(path)
        ident = artifact_id("task", task_id, relative, digest)
        row = ArtifactRow(id=ident, task_id=task_id, name=path.name, path=relative, size=path.stat().st_size,
                          sha256=digest, owner=owner, storage_key=f"{digest[:2]}/{ident}",
                          content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                          expires_at=datetime.now(UTC) + timedelta(seconds=settings.artifact_retention_s))
        _put(settings, row, path)
        _upsert(row)
        out[relative] = StoredArtifact(id=ident, name=path.name, path=relative, size=row.size, sha256=digest,
                                       url=url_of(settings, ident))
    return out


def _upsert(row: ArtifactRow) -> None:
    with session_scope() as session:
        if session.get(ArtifactRow, row.id) is None:
            session.add(row)


def _info(row: ArtifactRow) -> ArtifactInfo:
    return ArtifactInfo(id=row.id, name=row.name, path=row.path, size=row.size, sha256=row.sha256,
                        contentType=row.content_type, runId=row.run_id, taskId=row.task_id, stepId=row.step_id,
                        createdAt=row.created_at, expiresAt=row.expires_at)


def _expired(row: ArtifactRow) -> bool:
    if row.expires_at is None:
        return False
    moment = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return moment <= datetime.now(UTC)


def _entitled(row: ArtifactRow, caller: Caller) -> bool:
    if row.run_id is not None:
        from core.pipelines.runs import entitled, get_run_row, workflow_access

        run = get_run_row(row.run_id)
        return entitled(run, caller, workflow_access([run.workflowId]).get(run.workflowId))
    if row.task_id is not None:
        from core.agents.lookup import task_row

        task = task_row(row.task_id)
        if task is None:
            return caller.is_admin or row.owner == caller.id
        return may_read(caller, task.spec.owner, task.spec.shared_with)
    return caller.is_admin


def open_artifact(artifact: str, caller: Caller) -> tuple[ArtifactInfo, Iterator[bytes]]:
    """The artifact's metadata and a stream of its bytes, for a caller who may read what it belongs to."""
    with session_scope() as session:
        row = session.get(ArtifactRow, artifact)
        if row is None or _expired(row):
            raise NotFound("artifact", artifact)
        session.expunge(row)
    if not _entitled(row, caller):
        raise Forbidden("Only those who may read the run's (or task's) outputs may download its artifacts",
                        resource="artifact", id=artifact)
    return _info(row), store_for(get_settings()).open(row.storage_key)


def run_artifacts(run_id: str) -> list[ArtifactInfo]:
    with session_scope() as session:
        rows = session.exec(select(ArtifactRow).where(ArtifactRow.run_id == run_id)
                            .order_by(ArtifactRow.step_id, ArtifactRow.name)).all()  # type: ignore[arg-type]
        return [_info(row) for row in rows if not _expired(row)]


def sweep_expired(settings: Settings | None = None) -> int:
    """Delete expired artifacts (bytes first, then the row); returns how many."""
    settings = settings or get_settings()
    store = store_for(settings)
    now = datetime.now(UTC)
    with session_scope() as session:
        rows = session.exec(select(ArtifactRow).where(ArtifactRow.expires_at <= now)).all()  # type: ignore[operator]
        keys = [(row.id, row.storage_key) for row in rows]
    count = 0
    for ident, key in keys:
        with session_scope() as session:
            shared = session.exec(select(ArtifactRow.id).where(ArtifactRow.storage_key == key,
                                                               ArtifactRow.id != ident)).first()
            if shared is None:
                store.delete(key)
            row = session.get(ArtifactRow, ident)
            if row is not None:
                session.delete(row)
                count += 1
    if count:
        log.info("deleted %d expired artifacts", count)
    return count
