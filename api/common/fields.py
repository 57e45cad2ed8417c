"""Field names in a service's validation errors, spelled as the request body spells them.

Services name the fields of their inputs (`max_agents`, `type`, `agent_id`); a client needs the field it sent
(`data.attributes.maxAgents`). Each route that hands a body to a service says how its fields map, and only the
names it maps change: a field the mapping does not name keeps the service's spelling.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from core.errors import DomainError, Forbidden, ValidationFailed


def _renamed(field: str, names: Mapping[str, str]) -> str:
    """`names[field]`, or for a field inside a mapped one (`config.apiKey`, `initial_agents.0.type`) the mapped
    name with the rest kept."""
    if field in names:
        return names[field]
    for name, spelled in names.items():
        if field.startswith(name) and field[len(name):len(name) + 1] in (".", "["):
            return spelled + field[len(name):]
    return field


def rename_fields(error: DomainError, names: Mapping[str, str]) -> DomainError:
    """Rewrite `details[].field` of `error` in place through `names` (domain name → the dialect's)."""
    for detail in error.details if isinstance(error.details, list) else []:
        field = detail.get("field")
        if isinstance(field, str):
            detail["field"] = _renamed(field, names)
    return error


@contextmanager
def fields_named(names: Mapping[str, str]) -> Iterator[None]:
    """`with fields_named({"max_agents": "data.attributes.maxAgents"}): await service(...)`: a ValidationFailed (or
    a Forbidden naming fields) raised inside leaves with its fields renamed."""
    try:
        yield
    except (ValidationFailed, Forbidden) as error:
        rename_fields(error, names)
        raise
