"""Dialect 2 request bodies: JSON:API documents (`{"data": {type, attributes, relationships}}`), each with how it
maps to the service's input, and how the service's field names map back to the body's for validation errors."""
