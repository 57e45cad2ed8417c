"""FastAPI: validation, authorisation, two presenters over one core; no business logic lives here."""
