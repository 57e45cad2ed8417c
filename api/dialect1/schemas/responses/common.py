"""What the dialect 1 response models share: the open base, the list envelope's pagination, error responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """Bodies may grow fields; a client must ignore the ones it does not know. (Examples hold no nulls: FastAPI
    drops them from the document, which would leave a required field out; tests/test_openapi.py checks them.)"""

    model_config = ConfigDict(extra="allow")


Timestamp = str  # ISO 8601, UTC (api/common/dates.py)


class Pagination(Open):
    page: int | None = Field(description="The page number; null when the page was asked for by `cursor`")
    limit: int = Field(ge=1, description="Items per page")
    total: int = Field(ge=0, description="Items matching the filters")
    pages: int = Field(ge=1, description="Pages of `limit` items")


class Paged(Open):
    """Every dialect 1 list: `{<items>: [...], pagination, nextCursor}` (api/dialect1/presenters/lists.py)."""

    pagination: Pagination
    nextCursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last page")


def error(description: str) -> dict[str, Any]:
    """One documented error answer with dialect 1's body, for a route's `responses=`."""
    return {"model": None, "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorV1"}}}}

