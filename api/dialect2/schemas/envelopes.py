"""Envelope pieces the swarm, agent, task, memory, orchestration, neural and GitHub answers share, beyond the
generics of `documents.py`: `meta.location` of a create, `meta.redacted` of a body with withheld fields, and the
response headers (`Location`, `ETag`) those routes send, so the OpenAPI document names them too."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import Field

from api.dialect2.schemas.documents import Document, Meta, _Open

T = TypeVar("T")


class CreatedMeta(Meta):
    location: str = Field(description="The new resource's URL (also the `Location` header)",
                          examples=["/api/v2/swarms/sw-01J00000000000000000000000"])


class CreatedDocument(Document[T], Generic[T]):
    """A 201: the new resource, and where it lives."""

    meta: CreatedMeta


class WithheldMeta(_Open):
    """`meta` of a resource object some of whose fields were withheld from the caller (shown as null)."""

    redacted: list[str] = Field(description="The withheld fields' names, e.g. `configuration`",
                                examples=[["configuration"]])


class MaybeRedactedMeta(Meta):
    redacted: list[str] | None = Field(
        default=None, description="Fields withheld from the caller (they read null): present only when some were")


_HEADERS = {
    "Location": {"description": "The URL of the created resource, or of the accepted work's status",
                 "schema": {"type": "string"}, "required": True},
    "ETag": {"description": "The entry's version, quoted (send it back as `If-Match`)",
             "schema": {"type": "string"}, "required": True},
}


def headed(route: dict[str, Any], *names: str) -> dict[str, Any]:
    """`route` (the keyword arguments `api.common.openapi.returns` built) with the response headers `names` documented
    on its success status."""
    status = route["status_code"]
    route["responses"][status]["headers"] = {name: _HEADERS[name] for name in names}
    return route


def errors(**described: str) -> dict[int, dict[str, Any]]:
    """Further error answers of a route, in dialect 2's error body: `errors(e404="No such swarm")` for the
    `responses=` of `returns`. (`api.common.openapi.rewrite` adds the usual 400/401/403/404/413/429.)"""
    return {int(key.lstrip("e")): {"description": text, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorV2"}}}} for key, text in described.items()}


# A route that starts, signals or queries a workflow: Temporal may not answer, or refuse (core.errors.Unavailable).
UNAVAILABLE = errors(e503="Temporal did not answer or did not accept the request (SERVICE_UNAVAILABLE); retry")
