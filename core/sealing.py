"""Secrets the server holds for users (webhook secrets, git tokens): sealed with AES-GCM under a key derived from
the server secret (core/auth/secret.py) and the purpose, bound to the row they belong to. A stolen database holds
nothing usable without the secret; nothing ever returns a sealed value to a client."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.auth.secret import server_secret
from core.settings import Settings


def _key(settings: Settings, purpose: str) -> bytes:
    return hmac.new(server_secret(settings), f"sealed\0{purpose}".encode(), hashlib.sha256).digest()


def seal(settings: Settings, purpose: str, bound_to: str, plain: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_key(settings, purpose)).encrypt(nonce, plain.encode(), bound_to.encode())


def unseal(settings: Settings, purpose: str, bound_to: str, sealed: bytes) -> str:
    return AESGCM(_key(settings, purpose)).decrypt(sealed[:12], sealed[12:], bound_to.encode()).decode()
