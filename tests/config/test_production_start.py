"""What a production start builds: never the sandbox, and a loud line when a test key is allowed."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from billhook.app import create_app
from billhook.bootstrap import build_runtime, embeds_sandbox
from tests.support.databases import PRODUCTION, make_settings


def _routes(tmp_path: Path, **overrides: str) -> set[str]:
    settings = make_settings(f"sqlite:///{tmp_path / 'unused.db'}", **overrides)
    app = create_app(settings, build_runtime(settings, workers=False))
    return {getattr(route, "path", "") for route in app.routes}


def test_the_sandbox_is_mounted_only_without_a_key(tmp_path: Path) -> None:
    assert "/sandbox" in _routes(tmp_path)


def test_a_real_key_in_development_mounts_no_sandbox(tmp_path: Path) -> None:
    assert "/sandbox" not in _routes(tmp_path, stripe_secret_key="sk_test_" + "x" * 24)


def test_production_never_embeds_the_sandbox(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'unused.db'}", billhook_base_url="https://b.example", **PRODUCTION
    )
    settings.stripe_secret_key = None  # even if a caller bypassed the start-up refusal

    assert not embeds_sandbox(settings)


def test_production_on_an_allowed_test_key_says_so_loudly(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'unused.db'}",
        billhook_base_url="https://billing.example.com",
        **{**PRODUCTION, "stripe_secret_key": "sk_test_" + "x" * 24, "billhook_allow_test_keys": True},
    )
    with capture_logs() as logs:
        build_runtime(settings, workers=False)

    assert [entry["log_level"] for entry in logs if entry["event"] == "test_keys_in_production"] == ["error"]
