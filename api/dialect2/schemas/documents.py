"""The JSON:API envelopes of dialect 2 as pydantic generics, for the OpenAPI document: `Document[Run]` is the
`{"success": true, "data": Run, "meta", "links"}` body that `jsonapi.ok` builds, `ListDocument[Run]` the body of
`jsonapi.paged`, `Resource[...]` a resource object. Routes name them with `api.common.openapi.returns`."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
A = TypeVar("A")


class _Open(BaseModel):
    """Bodies may grow fields; a client must ignore the ones it does not know."""

    model_config = ConfigDict(extra="allow")


class Pagination(_Open):
    page: int = Field(ge=1)
    pageSize: int = Field(ge=1)
    pageCount: int = Field(ge=1)
    totalCount: int = Field(ge=0)


class Meta(_Open):
    timestamp: str = Field(description="When the answer was made (ISO 8601, UTC)")


class ListMeta(Meta):
    pagination: Pagination


class ListLinks(_Open):
    self: str
    first: str
    last: str
    prev: str | None = None
    next: str | None = None


class Linkage(BaseModel):
    type: str
    id: str


class Relationship(_Open):
    data: Linkage | list[Linkage] | None = None
    links: dict[str, str] | None = None
    meta: dict[str, Any] | None = None


class Resource(_Open, Generic[A]):
    """A resource object: `type`, `id`, `attributes`, and where it has them `relationships` and `links`."""

    type: str
    id: str
    attributes: A
    relationships: dict[str, Relationship] | None = None
    links: dict[str, str] | None = None


class Document(_Open, Generic[T]):
    success: Literal[True]
    data: T
    meta: Meta
    links: dict[str, str | None] | None = None
    included: list[dict[str, Any]] | None = None


class ListDocument(_Open, Generic[T]):
    success: Literal[True]
    data: list[T]
    meta: ListMeta
    links: ListLinks
    included: list[dict[str, Any]] | None = None


class RelationshipDocument(_Open):
    """`GET /api/v2/{kind}/{id}/relationships/{name}`: the linkage with its links and count."""

    success: Literal[True]
    data: list[Linkage]
    links: dict[str, str]
    meta: dict[str, Any]
