"""Webhook triggers: GitHub deliveries (`POST /api/v2/webhooks/github`) and generic signed webhooks
(`POST /api/v2/webhooks/{workflowId}`), both verified with HMAC-SHA256 exactly as GitHub signs
(`X-Hub-Signature-256: sha256=<hex>`). Each delivery is recorded once (its delivery id is the idempotency key):
which workflows matched, which runs it started, why nothing matched. `filters.py` and `github.py` are pure."""
