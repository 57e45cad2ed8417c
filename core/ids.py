"""Resource ids: prefix + ULID, so ids sort by creation time and name their kind in the Temporal UI."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}-{ULID()}"
