"""Process configuration, read once from flags, `STELLARFLOW_*` variables and `.env`.

Every process (api, worker, cli, tests) builds the same `Settings`, so a value means the same thing
wherever it is read.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TASK_QUEUE = "stellarflow"

# Custom search attributes registered on the dev server and set on every run we start.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "StellarflowWorkflowId": "Keyword",
    "StellarflowVersion": "Int",
    "StellarflowStatus": "Keyword",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STELLARFLOW_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".stellarflow")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS", "STELLARFLOW_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = "default"
    task_queue: str = TASK_QUEUE
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "STELLARFLOW_DATABASE_URL")
    )
    definitions_dir: Path = Path("definitions")
    public_url: str | None = None

    # Activity tuning. The heartbeat timeout bounds how long a run waits after a worker dies mid-step.
    heartbeat_timeout_s: float = 30.0
    default_step_timeout_s: float = 3600.0
    output_tail_bytes: int = 16_384

    # Deploy environments known to the server, merged under a definition's own `environments:` map.
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Notification channels. A channel left unset is reported as a warning event, never a failure.
    slack_webhook_url: str | None = None
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "stellarflow@localhost"
    smtp_to: list[str] = Field(default_factory=list)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'stellarflow.db').resolve()}"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def api_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def workspaces_dir(self) -> Path:
        return (self.data_dir / "workspaces").resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between sessions)."""
    get_settings.cache_clear()
