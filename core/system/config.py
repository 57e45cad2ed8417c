"""The effective configuration (`GET /api/system/config`, diagnostic bundles): every setting as this process resolved
it, grouped the way the spec groups it, with nothing secret in it (core/system/redact.py)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from core.system.redact import redact_value, secret_values, url_without_password


def settings_values(settings: Settings) -> dict[str, Any]:
    """Every field of `Settings` by name, JSON-ready, secrets redacted, URLs without passwords."""
    values = settings.model_dump(mode="json")
    values["database_url"] = url_without_password(settings.database_url)
    values["redis_url"] = url_without_password(str(settings.redis_url) if settings.redis_url else None)
    return redact_value(values, secret_values(settings))


def effective_config(settings: Settings) -> dict[str, Any]:
    from core.db import get_engine

    every = settings_values(settings)
    return {
        "orchestrator": {
            "engine": "temporal", "temporal_address": settings.temporal_target,
            "temporal_namespace": settings.temporal_namespace, "task_queue": settings.task_queue,
            "heartbeat_timeout_s": settings.heartbeat_timeout_s,
            "default_step_timeout_s": settings.default_step_timeout_s,
            "task_max_attempts": settings.task_max_attempts, "sandbox": settings.sandbox_mode,
        },
        "memory": {
            "backend": get_engine().dialect.name, "cache_entries": settings.memory_cache_entries,
            "max_entry_bytes": settings.memory_max_entry_bytes,
            "sweep_interval_s": settings.memory_sweep_interval_s,
        },
        "security": {
            "auth_enabled": True,  # every endpoint but health, auth and docs takes a token; nothing turns it off
            "rate_limiting": settings.rate_limit_enabled,
            "rate_limit_storage": "redis" if settings.redis_url else "memory",
            "registration_open": settings.allow_registration,
            "encryption": "AES-256-GCM",  # core/sealing.py: secrets held for users
            "cors_origins": settings.cors_origins,
        },
        "features": {
            "mcp_integration": False,  # no MCP server yet
            "prometheus": True, "worker_metrics": settings.worker_metrics_address is not None,
            "artifact_store": settings.artifact_store,
        },
        "metrics": {
            "retention_s": settings.metrics_retention_s, "sample_interval_s": settings.metrics_sample_interval_s,
            "flush_interval_s": settings.metrics_flush_interval_s, "public": settings.metrics_public,
        },
        "settings": every,
    }
