"""Reaching a Temporal cluster other than the dev server: TLS, mTLS, a private CA and an API key (Temporal Cloud).

`core.temporal.connect_options` builds what `Client.connect` is given; these tests check it, and that `connect` passes
it on, without connecting to anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from core import temporal
from core.settings import Settings
from core.temporal import TemporalSettingsError, connect_options

pytestmark = pytest.mark.database("sqlite", reason="connection settings: no database")

# Settings built here must not see the test session's environment or a developer's .env.
_CLEAN = {"_env_file": None}


@pytest.fixture(autouse=True)
def _no_temporal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TEMPORAL_", "STELLARFLOW_TEMPORAL_")):
            monkeypatch.delenv(name)


def _settings(**values: Any) -> Settings:
    """Settings from field values; a field with aliases is given under its first one, as the environment would."""
    named: dict[str, Any] = {}
    for field, value in values.items():
        alias = Settings.model_fields[field].validation_alias
        named[alias.choices[0] if isinstance(alias, AliasChoices) else field] = value
    return Settings(**_CLEAN, **named)


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name in ("client.pem", "client.key", "ca.pem"):
        files[name] = tmp_path / name
        files[name].write_bytes(f"-----BEGIN {name}-----\n".encode())
    return files


def test_the_dev_server_is_reached_in_plain_text() -> None:
    options = connect_options(_settings())
    assert options == {"namespace": "default", "data_converter": pydantic_data_converter, "tls": False}


def test_an_api_key_turns_tls_on_and_is_sent() -> None:
    options = connect_options(_settings(temporal_namespace="acme.a1b2c", temporal_api_key="tcld-key"))
    assert options["namespace"] == "acme.a1b2c"
    assert options["tls"] is True  # system roots, as Temporal Cloud needs
    assert options["api_key"] == "tcld-key"


def test_tls_can_be_forced_either_way() -> None:
    assert connect_options(_settings(temporal_tls=True))["tls"] is True
    # An API key over plain text is the operator's explicit choice (e.g. inside a service mesh that adds TLS).
    options = connect_options(_settings(temporal_tls=False, temporal_api_key="key"))
    assert options["tls"] is False and options["api_key"] == "key"


def test_mtls_reads_the_certificate_key_and_ca(pem_files: dict[str, Path]) -> None:
    options = connect_options(_settings(
        temporal_tls_cert=pem_files["client.pem"], temporal_tls_key=pem_files["client.key"],
        temporal_tls_ca=pem_files["ca.pem"], temporal_tls_server_name="temporal.internal",
    ))  # fmt: skip
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == pem_files["client.pem"].read_bytes()
    assert tls.client_private_key == pem_files["client.key"].read_bytes()
    assert tls.server_root_ca_cert == pem_files["ca.pem"].read_bytes()
    assert tls.domain == "temporal.internal"
    assert "api_key" not in options


def test_a_private_ca_alone_is_server_side_tls(pem_files: dict[str, Path]) -> None:
    tls = connect_options(_settings(temporal_tls_ca=pem_files["ca.pem"]))["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert is None and tls.client_private_key is None
    assert tls.server_root_ca_cert == pem_files["ca.pem"].read_bytes()


def test_contradictions_and_unreadable_files_fail_with_the_setting_named(pem_files: dict[str, Path]) -> None:
    with pytest.raises(TemporalSettingsError, match="TLS_CERT and STELLARFLOW_TEMPORAL_TLS_KEY go together"):
        connect_options(_settings(temporal_tls_cert=pem_files["client.pem"]))
    with pytest.raises(TemporalSettingsError, match="STELLARFLOW_TEMPORAL_TLS=false"):
        connect_options(_settings(temporal_tls=False, temporal_tls_ca=pem_files["ca.pem"]))
    missing = pem_files["ca.pem"].with_name("missing.pem")
    with pytest.raises(TemporalSettingsError, match="STELLARFLOW_TEMPORAL_TLS_CA = .*missing.pem"):
        connect_options(_settings(temporal_tls_ca=missing))


def test_temporal_cloud_variable_names_are_read(monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path]) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "acme.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_API_KEY", "from-environment")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pem_files["client.pem"]))
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(pem_files["client.key"]))
    settings = _settings()
    assert settings.temporal_target == "acme.a1b2c.tmprl.cloud:7233"
    assert settings.temporal_api_key is not None and settings.temporal_api_key.get_secret_value() == "from-environment"
    assert "from-environment" not in repr(settings)  # a secret, like the other keys
    assert isinstance(connect_options(settings)["tls"], TLSConfig)


def test_the_temporal_ui_link_follows_the_configured_ui() -> None:
    assert _settings(ui_port=8233).ui_url == "http://127.0.0.1:8233"
    assert _settings(temporal_ui_url="https://cloud.temporal.io/").ui_url == "https://cloud.temporal.io"


async def test_connect_hands_the_options_to_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def fake_connect(target_host: str, **kwargs: Any) -> str:
        seen.update(kwargs, target_host=target_host)
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    settings = _settings(temporal_address="temporal.example:7233", temporal_api_key="k", temporal_namespace="ns")
    assert await temporal.connect(settings) == "client"
    assert seen == {"target_host": "temporal.example:7233", **connect_options(settings)}
