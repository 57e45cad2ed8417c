"""Rate limits per caller and tier (`ratelimit`, on the `limits` library) and per-tier quotas on what a user may
hold or create (`quotas`)."""
