"""Routers, one per resource and dialect."""
