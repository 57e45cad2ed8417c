"""Dialect 1 routers, one per resource."""
