"""The sandbox commands find the service the way the rest of Billhook does, and print readable times."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from billhook.cli.sandbox import app, clock_line, offset_text, sandbox_base
from tests.support.sandbox import free_port

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("STRIPE_API_BASE", "BILLHOOK_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_without_settings_it_is_the_default_address() -> None:
    assert sandbox_base(None) == ("http://127.0.0.1:8000/sandbox", "the default address")


def test_billhook_base_url_from_dot_env_points_at_the_embedded_sandbox(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BILLHOOK_BASE_URL=http://127.0.0.1:8123/\n")
    assert sandbox_base(None) == ("http://127.0.0.1:8123/sandbox", "BILLHOOK_BASE_URL")


def test_the_environment_wins_over_dot_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("BILLHOOK_BASE_URL=http://127.0.0.1:8123\n")
    monkeypatch.setenv("BILLHOOK_BASE_URL", "http://127.0.0.1:9000")
    assert sandbox_base(None)[0] == "http://127.0.0.1:9000/sandbox"


def test_stripe_api_base_wins_over_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLHOOK_BASE_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:7000/sandbox")
    assert sandbox_base(None) == ("http://127.0.0.1:7000/sandbox", "STRIPE_API_BASE")
    assert sandbox_base("http://127.0.0.1:6000/sb/") == ("http://127.0.0.1:6000/sb", "--api-base")


def test_nothing_answering_names_the_url_tried_and_the_command_that_starts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setenv("BILLHOOK_BASE_URL", f"http://127.0.0.1:{port}")
    result = runner.invoke(app, ["clock"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: no sandbox answered at http://127.0.0.1:{port}/sandbox (from BILLHOOK_BASE_URL; "
        "ConnectError): start Billhook with 'billhook serve' (it serves the sandbox at /sandbox), "
        "or pass --api-base"
    )


def test_times_are_iso_dates_with_the_offset_from_real_time() -> None:
    assert clock_line(1_796_601_600, 0) == "2026-12-07T00:00:00+00:00 (real time)"
    assert offset_text(86_400) == "1 day ahead of real time"
    assert offset_text(2 * 86_400 + 3 * 3600 + 60) == "2 days 3 hours 1 minute ahead of real time"
    assert offset_text(42) == "42 seconds ahead of real time"
