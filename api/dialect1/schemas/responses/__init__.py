"""Dialect 1 response bodies, for the OpenAPI document only: one model per body as the presenters
(api/dialect1/presenters/) build it, named by `api.common.openapi.returns` on each route. Routes are not validated
against them at run time; tests/test_schema_fuzz.py checks real answers against the document instead."""
