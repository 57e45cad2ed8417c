"""A GitHub delivery as a run's `{{ github.* }}` context (the names GitHub Actions uses), and HMAC signatures."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from core.webhooks.filters import ref_parts

SIGNATURE_HEADER = "x-hub-signature-256"


def sign(secret: bytes, body: bytes) -> str:
    """`sha256=<hex>`: what GitHub sends in X-Hub-Signature-256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Constant-time comparison of the signature header with the body's HMAC under `secret`."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def context(event: str, payload: dict[str, Any], delivery: str | None) -> dict[str, Any]:
    repository = payload.get("repository") or {}
    pull = payload.get("pull_request") or {}
    release = payload.get("release") or {}
    sender = payload.get("sender") or {}
    data: dict[str, Any] = {
        "event_name": event,
        "event": payload,
        "delivery": delivery,
        "action": payload.get("action"),
        "repository": repository.get("full_name"),
        "repository_owner": (repository.get("owner") or {}).get("login"),
        "actor": sender.get("login"),
        "ref": payload.get("ref"),
        "sha": payload.get("after"),
        "head_ref": None,
        "base_ref": None,
        "number": None,
    }
    if event == "pull_request":
        data.update(ref=f"refs/pull/{pull.get('number')}/merge", sha=(pull.get("head") or {}).get("sha"),
                    head_ref=(pull.get("head") or {}).get("ref"), base_ref=(pull.get("base") or {}).get("ref"),
                    number=pull.get("number") or payload.get("number"))
    elif event == "release":
        data.update(ref=f"refs/tags/{release.get('tag_name')}", sha=release.get("target_commitish"))
    elif event == "workflow_dispatch":
        data.update(sha=None)
    branch, tag = ref_parts(data["ref"])
    data["ref_name"] = tag or branch
    data["ref_type"] = "tag" if tag else ("branch" if branch else None)
    return data
