"""List conventions shared by every list view: page number/size, filters and multi-key sort."""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlmodel.sql.expression import SelectOfScalar

from core.errors import ValidationFailed

T = TypeVar("T")
MAX_PAGE_SIZE = 100


class PageRequest(BaseModel):
    number: int = Field(default=1, ge=1)
    size: int = Field(default=20, ge=1)
    sort: list[str] = Field(default_factory=list)  # "-createdAt", "name"
    filters: dict[str, str] = Field(default_factory=dict)

    def model_post_init(self, _context: Any) -> None:
        if self.size > MAX_PAGE_SIZE:
            raise ValidationFailed(
                "Request validation failed",
                details=[{"field": "page[size]", "constraint": "max",
                          "message": f"Must not exceed {MAX_PAGE_SIZE}", "value": self.size}],
            )

    def apply(self, query: SelectOfScalar, sortable: dict[str, Any], *, default: str) -> SelectOfScalar:
        for key in self.sort or [default]:
            name = key.lstrip("-+")
            column = sortable.get(name)
            if column is None:
                raise ValidationFailed(
                    "Request validation failed",
                    details=[{"field": "sort", "constraint": "enum", "value": key,
                              "message": f"Cannot sort by {name!r}; use one of {sorted(sortable)}"}],
                )
            query = query.order_by(column.desc() if key.startswith("-") else column.asc())
        return query.offset((self.number - 1) * self.size).limit(self.size)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    request: PageRequest

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(self.total / self.request.size))
