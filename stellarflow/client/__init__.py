"""The typed Python SDK for StellarFlow's API (docs/sdk.md): `StellarFlow` (sync) and `AsyncStellarFlow` (async)
on httpx, pydantic models for every resource, errors as exceptions, automatic retries and Idempotency-Keys,
pagination as iterators, and WebSocket streams with resume."""

from stellarflow.client.client import AsyncStellarFlow, StellarFlow
from stellarflow.client.errors import (
    INVALID_REQUEST,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    StellarFlowError,
    TransportError,
    Unauthorized,
    ValidationError,
)
from stellarflow.client.models import (
    Agent,
    AgentHealth,
    Analysis,
    ApiKey,
    Assignment,
    Enhancement,
    MemoryEntry,
    MemoryHit,
    MemoryStats,
    Orchestration,
    Prediction,
    Run,
    RunLogs,
    StreamEvent,
    Swarm,
    SwarmStatus,
    Task,
    TaskResult,
    TokenPair,
    Training,
    User,
    Workflow,
)
from stellarflow.client.pagination import Page, Paginator

__all__ = [
    "INVALID_REQUEST", "Agent", "AgentHealth", "Analysis", "ApiKey", "Assignment", "AsyncStellarFlow", "Conflict",
    "Enhancement", "Forbidden", "IdempotencyKeyReused", "MemoryEntry", "MemoryHit", "MemoryStats", "NotFound",
    "Orchestration", "Page", "Paginator", "PayloadTooLarge", "PreconditionFailed", "Prediction", "RateLimited", "Run",
    "RunLogs", "ServerError", "ServiceUnavailable", "StellarFlow", "StellarFlowError", "StreamEvent", "Swarm",
    "SwarmStatus", "Task", "TaskResult", "TokenPair", "Training", "TransportError", "Unauthorized", "User",
    "ValidationError", "Workflow",
]
