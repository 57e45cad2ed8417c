"""Resource ids: prefix + ULID, so ids sort by creation time and name their kind in the Temporal UI."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}-{ULID()}"


def id_at(prefix: str, timestamp_ms: int, entropy: bytes) -> str:
    """A resource id made from given time and randomness: what a workflow uses (`workflow.now()` and
    `workflow.random()`), so replaying it makes the same ids."""
    return f"{prefix}-{ULID.from_bytes(timestamp_ms.to_bytes(6, 'big') + entropy[:10])}"
