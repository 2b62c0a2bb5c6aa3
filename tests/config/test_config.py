from __future__ import annotations

from pathlib import Path

import pytest

from billhook.config import SettingsError, ensure_secret_key, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "BILLHOOK_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_sandbox() -> None:
    settings = load_settings(env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./billhook.db"
    assert settings.uses_sandbox
    assert settings.auto_migrate


def test_postgres_urls_are_mapped_to_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://app@db.internal/billing")
    settings = load_settings(env_file=None)
    assert settings.database_url == "postgresql+asyncpg://app@db.internal/billing"
    assert not settings.auto_migrate


def test_unsupported_database_scheme_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/app")
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: unsupported database URL scheme 'mysql'"):
        load_settings(env_file=None)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("BILLHOOK_BASE_URL", "localhost:8000"), ("REDIS_URL", "http://cache"), ("STRIPE_API_BASE", "ftp://x")],
)
def test_bad_urls_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=rf"^{variable}: "):
        load_settings(env_file=None)


def test_webhook_secret_accepts_the_endpoint_alias_and_a_rotation_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_ENDPOINT_SECRET", "whsec_old, whsec_new")
    assert load_settings(env_file=None).stripe_webhook_secret == ["whsec_old", "whsec_new"]


def test_live_key_in_production_without_webhook_secret_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BILLHOOK_ENV", "production")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_abc")
    with pytest.raises(SettingsError, match="STRIPE_WEBHOOK_SECRET is required"):
        load_settings(env_file=None)


def test_live_key_with_webhook_secret_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLHOOK_ENV", "production")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_abc")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_abc")
    assert not load_settings(env_file=None).uses_sandbox


def test_price_overrides_come_from_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("STRIPE_PRICE_PRO=price_from_file\nSTRIPE_PRICE_STARTER=price_file_starter\n")
    monkeypatch.setenv("STRIPE_PRICE_STARTER", "price_from_env")
    overrides = load_settings(env_file=env_file).stripe_price_overrides
    assert overrides == {"pro": "price_from_file", "starter": "price_from_env"}


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BILLHOOK_BASE_URL=https://billing.example.com/\n")
    assert load_settings(env_file=env_file).billhook_base_url == "https://billing.example.com"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = ensure_secret_key(load_settings(env_file=None), tmp_path).secret_key
    second = ensure_secret_key(load_settings(env_file=None), tmp_path).secret_key
    assert first == second
    assert len(first) >= 40
    assert (tmp_path / ".billhook-secret").stat().st_mode & 0o077 == 0


def test_production_requires_an_explicit_secret_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BILLHOOK_ENV", "production")
    with pytest.raises(SettingsError, match="BILLHOOK_SECRET_KEY"):
        ensure_secret_key(load_settings(env_file=None), tmp_path)
