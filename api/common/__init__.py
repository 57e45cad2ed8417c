"""What both REST dialects share: the caller and its permissions, list parameters, the Temporal client, error
handling, the middleware (request ids and security headers, CORS, rate limits, Idempotency-Key), the OpenAPI
rewrite, path-id checks and request value types, date formatting, and the OAuth 2.0 protocol endpoints (which
speak OAuth's own wire format, neither dialect's envelope), and Prometheus' `/metrics` (its own text format).

Nothing here imports a dialect: each dialect builds on this package, never the other way round.
"""

from fastapi import APIRouter

from api.common import oauth, prometheus

ROUTERS: list[APIRouter] = [oauth.router, prometheus.router]
