"""Authentication and authorisation: users, passwords, login sessions with rotating refresh tokens, API keys,
roles and permissions. Front ends (API, CLI) call these modules; none of them logs or returns a secret."""
