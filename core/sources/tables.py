"""Git sources of definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from core.db import utcnow


class SourceRow(SQLModel, table=True):
    __tablename__ = "sources"
    id: str = Field(primary_key=True)  # src-…
    owner: str = Field(index=True)
    name: str
    url: str  # https://, http:// or (admins) file:// — never with credentials in it
    branch: str = "main"
    folder: str = "definitions"
    sealed_token: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    webhook_secret: str | None = None  # name of the owner's webhook secret that may sign pushes for it
    interval_s: float = 300.0  # the sync schedule; 0 = only on push and on request
    status: str = "new"  # new | syncing | ok | failed
    last_commit: str | None = None
    last_sync_at: datetime | None = None
    last_result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
