"""What `/api/v2/webhooks` answers, for the OpenAPI document: deliveries received and the names of webhook secrets."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.dialect2.schemas.documents import _Open


class DeliveryLinks(_Open):
    runs: list[str] = Field(description="the runs the delivery started")


class Delivery(_Open):
    """A webhook delivery and what it did."""

    id: str
    kind: str = Field(description="`github` or `generic`", examples=["github"])
    deliveryId: str = Field(description="the sender's delivery id (`X-GitHub-Delivery`, `X-Stellarflow-Delivery`, "
                            "else the signature)")
    event: str | None = Field(default=None, examples=["push"])
    action: str | None = None
    repository: str | None = Field(default=None, examples=["acme/app"])
    ref: str | None = Field(default=None, examples=["refs/heads/main"])
    target: str | None = Field(default=None, description="the workflow a generic webhook named")
    status: str = Field(examples=["started"])
    reason: str | None = None
    matched: list[str] = Field(description="workflows whose triggers matched")
    runs: list[str] = Field(description="runs started")
    syncs: list[str] = Field(description="source syncs started")
    details: dict[str, Any]
    receivedAt: str
    duplicate: bool = Field(default=False, description="a redelivery: it started nothing")
    links: DeliveryLinks


class Secret(_Open):
    """A webhook secret: its name and owner, never its value."""

    name: str
    owner: str
    createdAt: str
    updatedAt: str
