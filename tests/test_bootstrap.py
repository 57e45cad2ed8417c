"""`stellarflow bootstrap`: the one-shot job docker-compose.yml runs before the API and the workers start.

It creates the tables, checks the server secret, creates the first admin and prints its password once, and loads the
definitions directory; a second run changes nothing and prints no password. Run as a real process, as compose does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.prefix) / "bin" / "stellarflow"
STELLARFLOW = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "import cli; cli.main()"]
SECRET = "s" * 40


def _bootstrap(data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("STELLARFLOW_") and key not in {"DATABASE_URL", "TEMPORAL_ADDRESS", "REDIS_URL"}}
    env.update({"STELLARFLOW_DATA_DIR": str(data_dir), "STELLARFLOW_DEFINITIONS_DIR": str(ROOT / "definitions"),
                "STELLARFLOW_JWT_SECRET": SECRET, "COLUMNS": "200"})
    env.update(extra)
    return subprocess.run([*STELLARFLOW, "bootstrap"], cwd=data_dir.parent, env=env, capture_output=True, text=True,
                          timeout=120)


def _rows(url: str, query: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def test_bootstrap_prepares_a_fresh_database_once(tmp_path: Path, fresh_database_url: str) -> None:
    """On a fresh database of this half's kind (SQLite, then PostgreSQL)."""
    data_dir = tmp_path / "data"
    first = _bootstrap(data_dir, DATABASE_URL=fresh_database_url)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    created = next(i for i, line in enumerate(lines) if "created the admin user admin" in line)
    password = lines[created + 1]  # alone on its line, so it can be copied
    definitions = len(list((ROOT / "definitions").glob("*.yaml")))
    assert f"{definitions} definition(s) loaded" in first.stdout

    users = _rows(fresh_database_url, "SELECT username, role, password_hash FROM users")
    workflows = _rows(fresh_database_url, "SELECT count(*) FROM workflows")[0][0]
    assert [(name, role) for name, role, _ in users] == [("admin", "admin")]
    assert PasswordHasher().verify(users[0][2], password)  # the printed password is the admin's
    assert workflows == definitions
    assert not (data_dir / "jwt.secret").exists()  # the configured secret is used, none is generated

    again = _bootstrap(data_dir, DATABASE_URL=fresh_database_url)
    assert again.returncode == 0, again.stderr
    assert "an admin exists already" in again.stdout
    assert password not in again.stdout and "created the admin" not in again.stdout
    assert _rows(fresh_database_url, "SELECT count(*) FROM users")[0][0] == 1
    assert _rows(fresh_database_url, "SELECT count(*) FROM workflow_versions")[0][0] == definitions  # not re-stored


def test_bootstrap_refuses_a_short_secret(tmp_path: Path) -> None:
    result = _bootstrap(tmp_path / "data", STELLARFLOW_JWT_SECRET="too-short")
    assert result.returncode == 2
    assert "STELLARFLOW_JWT_SECRET must be at least 32 characters" in result.stderr
