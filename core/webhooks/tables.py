"""Webhook deliveries and the webhook secrets users store (sealed: core/sealing.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import utcnow


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("kind", "delivery_key", name="uq_webhook_delivery"),)
    id: str = Field(primary_key=True)  # dlv-…
    kind: str  # github | webhook
    delivery_key: str  # X-GitHub-Delivery (or the generic webhook's delivery id)
    event: str | None = None
    action: str | None = None
    repository: str | None = None
    ref: str | None = None
    target: str | None = None  # a generic webhook's workflow id
    status: str = "received"  # received | started | no_match | ignored | failed
    reason: str | None = None
    matched: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    runs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    syncs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    owners: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # who may list it
    received_at: datetime = Field(default_factory=utcnow, index=True)


class WebhookSecretRow(SQLModel, table=True):
    __tablename__ = "webhook_secrets"
    id: str = Field(primary_key=True)  # "<owner>:<name>"
    owner: str = Field(index=True)
    name: str
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
