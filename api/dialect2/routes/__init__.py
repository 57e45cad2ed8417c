"""Dialect 2 routers, one per resource."""
