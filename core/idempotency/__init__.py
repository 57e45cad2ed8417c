"""`Idempotency-Key`: the storage behind it (`store`), used by the API's middleware (api/common/idempotency.py)."""
