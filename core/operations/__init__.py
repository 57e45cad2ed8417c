"""Requests answered 202: what was asked of which resource, and how it ended (`GET /api/v2/operations/{id}`)."""
