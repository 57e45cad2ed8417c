"""The platform itself, as opposed to what runs on it: whether its own components (database, Temporal) answer."""
