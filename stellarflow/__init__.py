"""StellarFlow's client side, installed with the project: `stellarflow.client` is the typed Python SDK.

It is a pure HTTP/WebSocket client (httpx, pydantic, websockets) and imports nothing from the server's packages
(`core`, `api`, `workflows`, `activities`): import-linter checks that, so it stays installable on its own.
"""
