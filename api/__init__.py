"""The REST front end (FastAPI): `common/` (what both dialects share), `dialect1/` (`/api/...`) and `dialect2/`
(`/api/v2/...`), each with routes, request schemas and presenters over the one core. No business logic and no
SQL live here: routes parse, call a service, and present its answer."""
