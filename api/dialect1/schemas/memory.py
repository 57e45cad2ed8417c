"""`POST /api/memory`, `PUT /api/memory/{key}`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import AccessLevel
from core.memory.service import DEFAULT_NAMESPACE


class StoreBodyV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=255)
    value: Any = Field(description="any JSON, up to the entry size limit (1 MiB by default)")
    namespace: str = Field(default=DEFAULT_NAMESPACE, min_length=1, max_length=64)
    ttl: int | None = Field(default=None, description="seconds until the entry expires; omit or 0 to keep it")
    tags: list[str] = Field(default_factory=list, max_length=32)
    access_level: AccessLevel | None = Field(default=None, description="private, shared (default) or public")


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = Field(description="the new value, or with `merge` an RFC 7386 merge patch")
    merge: bool = False
    create_version: bool = Field(default=True, description="keep the superseded version in the history")
    namespace: str | None = Field(default=None, min_length=1, max_length=64)
    ttl: int | None = None
    tags: list[str] | None = Field(default=None, max_length=32)
    access_level: AccessLevel | None = None
