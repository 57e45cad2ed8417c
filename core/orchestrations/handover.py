"""Reading a phase's files back from the artifact store, to seed the next phase's task workspaces (the handover
activity's work). Text only, bounded in total: a binary, oversized or expired file is listed as not copied."""

from __future__ import annotations

from core.artifacts.store import store_for
from core.artifacts.tables import ArtifactRow
from core.db import session_scope
from core.orchestrations.contracts import Handover, HandoverRequest
from core.settings import get_settings


def gather(request: HandoverRequest) -> Handover:
    store = store_for(get_settings())
    out = Handover()
    budget = request.max_bytes
    for item in request.files:
        with session_scope() as session:
            row = session.get(ArtifactRow, item.artifact_id)
            key, size = (row.storage_key, row.size) if row is not None else (None, 0)
        if key is None or size > budget:
            out.skipped.append(item.path)
            continue
        try:
            data = b"".join(store.open(key))
            text = data.decode("utf-8")
        except Exception:  # noqa: BLE001 - unreadable (binary, gone from the store): listed, not copied
            out.skipped.append(item.path)
            continue
        budget -= len(data)
        out.files[item.path] = text
    return out
