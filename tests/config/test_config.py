from __future__ import annotations

from pathlib import Path

import pytest

from billhook.config import SettingsError, ensure_secret_key, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DATABASE_URL",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_ENDPOINT_SECRET",
        "BILLHOOK_ENV",
        "BILLHOOK_SECRET_KEY",
        "BILLHOOK_BASE_URL",
        "BILLHOOK_ALLOW_TEST_KEYS",
    ):
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


SAFE_PRODUCTION = {
    "BILLHOOK_ENV": "production",
    "STRIPE_SECRET_KEY": "sk_live_abcdefghijklmnop",
    "STRIPE_WEBHOOK_SECRET": "whsec_abcdefghijklmnop",
    "BILLHOOK_SECRET_KEY": "k" * 32,
    "BILLHOOK_BASE_URL": "https://billing.example.com",
    "BILLHOOK_SUPPORT_EMAIL": "help@example.com",
}


def _production(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> None:
    for name, value in {**SAFE_PRODUCTION, **changes}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_a_safe_production_configuration_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    assert not load_settings(env_file=None).uses_sandbox


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"STRIPE_SECRET_KEY": None}, r"^STRIPE_SECRET_KEY: required in production .*sk_live_"),
        ({"STRIPE_SECRET_KEY": "sk_test_abcdefgh"}, r"^STRIPE_SECRET_KEY: a test key .*ALLOW_TEST_KEYS"),
        ({"STRIPE_WEBHOOK_SECRET": None}, r"^STRIPE_WEBHOOK_SECRET is required in production.*whsec_"),
        ({"BILLHOOK_SECRET_KEY": None}, r"^BILLHOOK_SECRET_KEY: required in production.*32 bytes"),
        ({"BILLHOOK_SECRET_KEY": "short"}, r"^BILLHOOK_SECRET_KEY: 5 bytes is too short.*32 bytes"),
        ({"BILLHOOK_SECRET_KEY": "k" * 31}, r"^BILLHOOK_SECRET_KEY: 31 bytes is too short"),
        ({"BILLHOOK_BASE_URL": "http://billing.example.com"}, r"^BILLHOOK_BASE_URL: .* is not https"),
        ({"BILLHOOK_SUPPORT_EMAIL": None}, r"^BILLHOOK_SUPPORT_EMAIL: required in production"),
    ],
    ids=[
        "no-stripe-key",
        "test-key",
        "no-webhook-secret",
        "no-secret-key",
        "short-key",
        "31-bytes",
        "http",
        "no-support-address",
    ],
)
def test_production_refuses_an_unsafe_configuration_in_one_line(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, str | None], refusal: str
) -> None:
    _production(monkeypatch, **changes)
    with pytest.raises(SettingsError, match=refusal) as refused:
        load_settings(env_file=None)
    assert "\n" not in str(refused.value)


def test_a_staging_switch_lets_production_run_on_a_test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, STRIPE_SECRET_KEY="sk_test_abcdefgh", BILLHOOK_ALLOW_TEST_KEYS="true")
    assert load_settings(env_file=None).stripe_secret_key == "sk_test_abcdefgh"


def test_outside_production_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, BILLHOOK_ENV="development", STRIPE_SECRET_KEY=None, BILLHOOK_SECRET_KEY="x")
    assert load_settings(env_file=None).uses_sandbox


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
    _production(monkeypatch, BILLHOOK_SECRET_KEY=None)
    with pytest.raises(SettingsError, match="BILLHOOK_SECRET_KEY"):
        ensure_secret_key(load_settings(env_file=None), tmp_path)


def test_email_types_can_be_switched_off_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLHOOK_EMAILS_DISABLED", "receipt, Trial_Ending")
    settings = load_settings(env_file=None)
    assert settings.disabled_email_templates == {"payment_receipt", "trial_ending"}


def test_an_unknown_email_type_stops_the_start_naming_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLHOOK_EMAILS_DISABLED", "receipts")
    with pytest.raises(
        SettingsError, match=r"BILLHOOK_EMAILS_DISABLED.*unknown email type receipts.*receipt"
    ):
        load_settings(env_file=None)
