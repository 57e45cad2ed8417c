"""`POST /api/v2/memory`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import AccessLevel
from core.memory.service import DEFAULT_NAMESPACE


class StoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    namespace: str = Field(default=DEFAULT_NAMESPACE, min_length=1, max_length=64)
    key: str = Field(min_length=1, max_length=255)
    value: Any = Field(description="any JSON, up to the entry size limit (1 MiB by default)")
    ttl: int | None = Field(default=None, description="seconds until the entry expires; omit or 0 to keep it")
    tags: list[str] = Field(default_factory=list, max_length=32)
    accessLevel: AccessLevel | None = Field(default=None, description="private, shared (default) or public")
