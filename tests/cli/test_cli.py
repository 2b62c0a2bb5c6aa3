from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from billhook import __version__
from billhook.cli import app

runner = CliRunner()
BILLHOOK = [sys.executable, "-m", "billhook"]
CATALOG = Path(__file__).resolve().parents[2] / "billhook.toml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_", "BILLHOOK_"))}
    return {**env, "HOME": str(tmp_path), **extra}


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"], ["version"]])
def test_every_command_explains_itself(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_version_prints_the_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.output.strip() == f"billhook {__version__}"


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    result = subprocess.run(
        [*BILLHOOK, "migrate"],
        env=_clean_env(tmp_path, DATABASE_URL=f"sqlite:///{database}"),
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "database at revision" in result.stdout
    tables = {r[0] for r in sqlite3.connect(database).execute("select name from sqlite_master")}
    assert {"users", "payments", "inbox_events", "outbox_jobs"} <= tables


def test_bad_setting_stops_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [*BILLHOOK, "migrate"],
        env=_clean_env(tmp_path, DATABASE_URL="oracle://scott@tiger/db"),
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: DATABASE_URL: unsupported database URL scheme 'oracle'; "
        "use sqlite:///PATH or postgresql://USER@HOST/DB"
    ]


def _wait_for_catalog_in_sandbox(root: str) -> None:
    """The embedded default pushes billhook.toml into its sandbox in the background."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        products = httpx.get(f"{root}/api/products", timeout=5).json()["products"]
        prices = httpx.get(
            f"{root}/sandbox/v1/prices?limit=100", headers={"Authorization": "Bearer sk_test_x"}, timeout=5
        ).json()["data"]
        lookup_keys = {price["lookup_key"] for price in prices}
        if products and all(
            any(key and f":{product['id']}:" in key for key in lookup_keys) for product in products
        ):
            return
        time.sleep(0.3)
    raise AssertionError(f"catalog not in the sandbox: {products=} {lookup_keys=}")


def test_serve_starts_the_embedded_default_and_is_ready(tmp_path: Path) -> None:
    port = _free_port()
    shutil.copy(CATALOG, tmp_path / "billhook.toml")
    process = subprocess.Popen(
        [*BILLHOOK, "serve", "--port", str(port)],
        env=_clean_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:  # 503 until the catalog is in the sandbox, then 200
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert response is not None and response.status_code == 200
        assert response.json()["database"] == "sqlite"
        _wait_for_catalog_in_sandbox(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=15)
    tables = {
        r[0] for r in sqlite3.connect(tmp_path / "billhook.db").execute("select name from sqlite_master")
    }
    assert {"users", "subscriptions", "audit_entries"} <= tables
    assert (tmp_path / ".billhook-secret").exists()
