"""`billhook serve` with a mistake in its configuration: one line naming the variable or file, exit
status non-zero, no traceback, and never a "listening" line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from billhook.catalog import EXAMPLE_CATALOG
from tests.support.server import free_port

BILLHOOK = Path(sys.executable).with_name("billhook")


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "billhook.toml").write_text(EXAMPLE_CATALOG.read_text())
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_", "BILLHOOK_"))}
    clean.pop("LOG_LEVEL", None)
    return subprocess.run(
        [str(BILLHOOK), "serve", "--port", str(free_port())],
        cwd=tmp_path, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "listening" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_bad_database_url_names_the_variable(tmp_path: Path) -> None:
    line = _one_error_line(_serve(tmp_path, DATABASE_URL="mysql://app@db/shop"))
    assert line.startswith("error: DATABASE_URL: unsupported database URL scheme 'mysql'")


def test_an_unreadable_database_names_the_file_and_what_to_check(tmp_path: Path) -> None:
    (tmp_path / "shop.db").write_bytes(b"this is not a database " * 50)
    line = _one_error_line(_serve(tmp_path, DATABASE_URL="sqlite:///./shop.db"))
    assert line.startswith(
        "error: DATABASE_URL: cannot open the SQLite database ./shop.db (file is not a database)"
    )


def test_a_database_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    line = _one_error_line(_serve(tmp_path, DATABASE_URL="sqlite:///./missing/shop.db"))
    assert "cannot open the SQLite database ./missing/shop.db" in line


def test_malformed_toml_names_the_catalog_file(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text("[[products]\nid = ")
    line = _one_error_line(_serve(tmp_path, BILLHOOK_CATALOG="shop.toml"))
    assert line.startswith("error: shop.toml: not valid TOML")


def test_a_catalog_mistake_names_product_and_fix(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text(
        '[[products]]\nid = "pro"\nname = "Pro"\ntype = "one_time"\nprices = { usd = 49.00 }\n'
    )
    line = _one_error_line(_serve(tmp_path, BILLHOOK_CATALOG="shop.toml"))
    assert line.startswith("error: shop.toml: product 'pro': prices: usd = 49.0")
    assert line.endswith("usd = 4900 means $49.00")


def test_a_bad_log_level_names_the_variable(tmp_path: Path) -> None:
    line = _one_error_line(_serve(tmp_path, LOG_LEVEL="LOUD"))
    assert line == "error: LOG_LEVEL: 'LOUD' is not a log level; use DEBUG, INFO, WARNING, ERROR or CRITICAL"


def test_an_unreachable_postgresql_is_one_line_not_a_flood(tmp_path: Path) -> None:
    closed = free_port()
    line = _one_error_line(_serve(tmp_path, DATABASE_URL=f"postgresql://billhook@127.0.0.1:{closed}/shop"))
    assert line == (
        f"error: DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{closed}/shop (connection refused): "
        "start the server or correct the host, port, user, password and database name"
    )


def test_a_failure_after_the_checks_is_still_one_error_line(tmp_path: Path) -> None:
    result = _serve(tmp_path, BILLHOOK_SANDBOX_DATABASE_URL="sqlite:///./missing/sandbox.db")
    assert result.returncode == 1
    assert "listening" not in result.stdout
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: start-up failed: OperationalError: unable to open database file (LOG_LEVEL=DEBUG shows where)"
    ]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = _serve(tmp_path, DATABASE_URL="sqlite:///./missing/shop.db", LOG_LEVEL="DEBUG")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: DATABASE_URL: cannot open")


def _command(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_", "BILLHOOK_"))}
    return subprocess.run(
        [str(BILLHOOK), *args], cwd=tmp_path, env={**clean, **env}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_migrate_and_worker_say_in_one_line_that_postgresql_is_unreachable(tmp_path: Path) -> None:
    closed = free_port()
    url = f"postgresql://billhook@127.0.0.1:{closed}/shop"
    for command in (("migrate",), ("worker",)):
        line = _one_error_line(_command(tmp_path, *command, DATABASE_URL=url))
        assert line.startswith(
            f"error: DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{closed}/shop"
        )


def test_the_asgi_factory_stops_with_one_line_too(tmp_path: Path) -> None:
    uvicorn = BILLHOOK.with_name("uvicorn")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_", "BILLHOOK_"))}
    result = subprocess.run(
        [str(uvicorn), "--factory", "billhook.asgi:build", "--port", str(free_port())],
        cwd=tmp_path, env={**clean, "LOG_LEVEL": "LOUD"}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    line = _one_error_line(result)
    assert line.startswith("error: LOG_LEVEL: 'LOUD' is not a log level")
