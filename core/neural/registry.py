"""The model registry: models (owner, sharing) and their numbered versions (weights file, sha256, encoding,
held-out figures). A version is keyed by the training that made it, so a retried registration — a worker lost
after writing it — finds the version instead of adding another."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core.db import get_engine, session_scope
from core.neural import store
from core.neural.models import HeadMetrics, ModelVersion
from core.neural.tables import ModelRow, ModelVersionRow
from core.settings import Settings


def _version(row: ModelVersionRow, model: ModelRow) -> ModelVersion:
    return ModelVersion(model_id=row.model_id, version=row.version, owner=model.owner,
                        shared_with=list(model.shared_with or []), pattern_type=model.pattern_type,
                        training_id=row.training_id, path=row.path, sha256=row.sha256, encoding=row.encoding,
                        config=row.config,
                        metrics=[HeadMetrics.model_validate(m) for m in row.metrics], samples=row.samples,
                        epochs=row.epochs, training_seconds=row.training_seconds, trained_at=row.trained_at)


def get_model(model_id: str) -> ModelRow | None:
    with session_scope() as session:
        return session.get(ModelRow, model_id)


# Versions never change once written: each process keeps the ones it has read (the model's owner and sharing,
# which may, are read each time). One primary-key read instead of an ORM session and two queries per prediction.
_versions: dict[tuple[str, int], ModelVersion] = {}
MAX_CACHED_VERSIONS = 1000


_MODELS = ModelRow.__table__  # type: ignore[attr-defined]
_MODEL_ACCESS = select(_MODELS.c.owner, _MODELS.c.shared_with, _MODELS.c.latest_version) \
    .where(_MODELS.c.id == bindparam("model_id"))


def get_version(model_id: str, version: int | None = None) -> ModelVersion | None:
    """A version of the model (the latest when `version` is None), or None."""
    with get_engine().connect() as connection:
        model = connection.execute(_MODEL_ACCESS, {"model_id": model_id}).first()
    if model is None:
        return None
    number = version if version is not None else model.latest_version
    found = _versions.get((model_id, number))
    if found is None:
        found = _read_version(model_id, number)
        if found is None:
            return None
        if len(_versions) >= MAX_CACHED_VERSIONS:
            _versions.clear()
        _versions[model_id, number] = found
    return found.model_copy(update={"owner": model.owner, "shared_with": list(model.shared_with or [])})


def _read_version(model_id: str, version: int) -> ModelVersion | None:
    with session_scope() as session:
        model = session.get(ModelRow, model_id)
        if model is None:
            return None
        row = session.exec(select(ModelVersionRow).where(ModelVersionRow.model_id == model_id,
                                                         ModelVersionRow.version == version)).first()
        return _version(row, model) if row else None


def register(settings: Settings, *, training_id: str, model_id: str, owner: str | None, shared_with: list[str],
             pattern_type: str, encoding: dict[str, Any], config: dict[str, Any], arrays: dict[str, np.ndarray],
             metrics: list[HeadMetrics], samples: int, epochs: int, training_seconds: float) -> ModelVersion:
    """Write the weights file and add the next version of `model_id` (creating the model on its first version)."""
    relative = store.model_path(model_id, training_id)
    digest, size = store.write_arrays(settings.data_dir.resolve() / relative, arrays)
    for _ in range(5):  # two trainings of one model finishing together: the loser takes the next number
        with session_scope() as session:
            existing = session.get(ModelVersionRow, training_id)
            if existing is not None:
                return _version(existing, session.get(ModelRow, model_id))  # type: ignore[arg-type]
            model = session.get(ModelRow, model_id)
            if model is None:
                model = ModelRow(id=model_id, owner=owner, pattern_type=pattern_type, shared_with=shared_with)
                session.add(model)
            now = datetime.now(UTC)
            number = model.latest_version + 1
            model.latest_version, model.updated_at = number, now
            row = ModelVersionRow(training_id=training_id, model_id=model_id, version=number, path=relative,
                                  sha256=digest, size=size, encoding=encoding, config=config,
                                  metrics=[m.model_dump(mode="json") for m in metrics], samples=samples,
                                  epochs=epochs, training_seconds=training_seconds, trained_at=now)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
            session.refresh(row)
            session.refresh(model)
            return _version(row, model)
    raise RuntimeError(f"could not number a new version of {model_id}")
