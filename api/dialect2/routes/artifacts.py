"""Dialect 2: artifacts (`/api/v2/artifacts/{id}`): the bytes, streamed, for whoever may read the run's outputs (or
the task's result) they belong to."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from api.common.deps import Principal, require
from core.artifacts import service

router = APIRouter(prefix="/api/v2/artifacts", tags=["artifacts"])


# The bytes, in the artifact's own content type (recorded when it was stored: `contentType` in its metadata).
DOWNLOAD = {200: {
    "description": "The artifact's bytes, in its own content type",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {
        "X-Checksum-Sha256": {"required": True, "description": "sha256 of the bytes (hex)",
                              "schema": {"type": "string"}},
        "Content-Disposition": {"required": True, "description": "attachment; filename*=UTF-8''<name>",
                                "schema": {"type": "string"}},
    },
}}


@router.get("/{artifact_id}", response_class=StreamingResponse, responses=DOWNLOAD)
def download(artifact_id: str,
             principal: Annotated[Principal, Depends(require("workflows:read"))]) -> StreamingResponse:
    """Streamed, with `Content-Length`, the sha256 in `X-Checksum-Sha256` and the name in `Content-Disposition`.
    403 for a caller who may not read what it belongs to; 404 once expired."""
    info, chunks = service.open_artifact(artifact_id[:100], principal.caller)
    return StreamingResponse(chunks, media_type=info.contentType, headers={
        "Content-Length": str(info.size), "X-Checksum-Sha256": info.sha256,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name)}"})
