"""Password hashing (argon2id through argon2-cffi), the strength rule and generated passwords."""

from __future__ import annotations

import secrets
import string
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can ask for
SYMBOLS = "!@#$%^&*()-_=+.,:;?/~"
# argon2id with OWASP's baseline (19 MiB, 2 passes, 1 lane): ~0.1 s per hash here, versus ~0.5 s for the library
# default, which would let a burst of logins eat the API's CPU. Older hashes are upgraded on login (needs_rehash).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def problems(password: str) -> list[str]:
    """What the password lacks; empty when it passes the rule."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"at most {MAX_LENGTH} characters")
    if not any(c.islower() for c in password):
        found.append("a lower-case letter")
    if not any(c.isupper() for c in password):
        found.append("an upper-case letter")
    if not any(c.isdigit() for c in password):
        found.append("a digit")
    if not any(not c.isalnum() and not c.isspace() for c in password):
        found.append("a symbol")
    return found


def check_strength(password: str, field: str = "password") -> None:
    missing = problems(password)
    if missing:
        # Never echo the value: the detail names the field and the rule only.
        raise ValidationFailed(
            "Request validation failed",
            details=[{"field": field, "constraint": "strength",
                      "message": "Password needs " + ", ".join(missing)}],
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify(password_hash: str | None, password: str) -> bool:
    """Constant-time-ish: an unknown user (no hash) costs one argon2 verification too."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate(length: int = 20) -> str:
    """A random password that passes the strength rule (no quotes, brackets or spaces: safe to paste)."""
    alphabet = string.ascii_letters + string.digits + SYMBOLS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not problems(candidate):
            return candidate
