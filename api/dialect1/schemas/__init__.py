"""Dialect 1 request bodies (plain snake_case JSON, `extra=forbid`), each with how it maps to the service's
input."""
