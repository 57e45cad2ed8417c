"""Resource ids: prefix + ULID, so ids sort by creation time and name their kind in the Temporal UI."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}-{ULID()}"


def id_at(prefix: str, timestamp_ms: int, entropy: bytes) -> str:
    """A resource id made from given time and randomness: what a workflow uses (`workflow.now()` and
    `workflow.random()`), so replaying it makes the same ids."""
    return f"{prefix}-{ULID.from_bytes(timestamp_ms.to_bytes(6, 'big') + entropy[:10])}"


def derived_id(prefix: str, seed: str) -> str:
    """A resource id that is a function of `seed` (an Idempotency-Key's slot): the same seed, the same id. Its ULID
    part is a hash, so unlike `new_id` it does not sort by creation time."""
    import hashlib

    return f"{prefix}-{ULID.from_bytes(hashlib.sha256(seed.encode()).digest()[:16])}"
