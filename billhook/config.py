"""Settings: the one reader of the process environment and the ``.env`` file.

Everything else receives a :class:`Settings` instance through its constructor or a
FastAPI dependency. Bad values stop start-up with a one-line message that names the
variable (:class:`SettingsError`).
"""

from __future__ import annotations

import os
import secrets
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_KEY_FILE = ".billhook-secret"  # noqa: S105 (a file name, not a secret)
PRICE_OVERRIDE_PREFIX = "STRIPE_PRICE_"
# Customer emails an operator can switch off with BILLHOOK_EMAILS_DISABLED (for one Stripe sends
# itself, so no customer gets two): type -> the notifications template it names.
EMAIL_TYPES = {
    "receipt": "payment_receipt",
    "trial_ending": "trial_ending",
    "welcome": "signup_welcome",
    "payment_failed": "payment_failed",
    "subscription_renewed": "subscription_renewed",
    "subscription_canceled": "subscription_canceled",
    "refund_issued": "refund_issued",
}


class SettingsError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


_DATABASE_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalize_database_url(url: str) -> str:
    """Map the URLs users write (``postgres://``, ``sqlite:///``) to our async drivers."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _DATABASE_SCHEMES:
        supported = "sqlite:///PATH or postgresql://USER@HOST/DB"
        raise ValueError(f"unsupported database URL scheme {scheme!r}; use {supported}")
    return f"{_DATABASE_SCHEMES[scheme]}://{rest}"


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _currency_code(value: str) -> str:
    code = value.strip().lower()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"{value!r} is not a three-letter currency code")
    return code


def _parse_rates(value: str) -> dict[str, Decimal]:
    """``eur=1.08,gbp=1.27`` -> {"eur": Decimal("1.08"), ...}; every rate positive."""
    rates: dict[str, Decimal] = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        code, sep, rate = pair.partition("=")
        try:
            amount = Decimal(rate.strip())
        except InvalidOperation:
            amount = Decimal(0)
        if not sep or not amount.is_finite() or amount <= 0:
            raise ValueError(f"{pair!r} is not CURRENCY=RATE with a positive rate, e.g. eur=1.08")
        rates[_currency_code(code)] = amount
    return rates


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


class Settings(BaseSettings):
    """Billhook's configuration. Field names map to the upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    billhook_env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./billhook.db"
    redis_url: str | None = None
    billhook_base_url: str = "http://127.0.0.1:8000"
    billhook_secret_key: str | None = None
    billhook_auto_migrate: bool | None = None
    billhook_embedded_worker: bool = True
    billhook_catalog: Path = Path("billhook.toml")
    billhook_allowed_redirect_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    billhook_sandbox_database_url: str = "sqlite+aiosqlite:///./billhook-sandbox.db"
    billhook_product_name: str = "Billhook"
    billhook_session_ttl_hours: int = Field(default=168, ge=1)
    billhook_password_reset_ttl_minutes: int = Field(default=60, ge=1)
    billhook_past_due_grace_days: int = Field(default=7, ge=0)
    # How long a booking's hosted checkout stays open (and its slot held by an unpaid booking);
    # Stripe allows 30 minutes to 24 hours for a Checkout Session's expires_at.
    billhook_booking_checkout_minutes: int = Field(default=30, ge=30, le=24 * 60)
    billhook_inbox_reconcile_interval: float = Field(default=600.0, ge=0)  # seconds; 0 turns it off
    # Inbox slots per worker (customers applied at once): mostly waiting on the provider, so
    # more than the outbox's; each holds a database connection while it applies.
    billhook_inbox_concurrency: int = Field(default=8, ge=1, le=64)
    # Days done outbox jobs and processed inbox events are kept (events: at least 30, well past
    # Stripe's 3 days of retries, so a late redelivery is still known as a duplicate).
    billhook_outbox_retention_days: int = Field(default=7, ge=1)
    billhook_inbox_retention_days: int = Field(default=30, ge=30)
    # PostgreSQL connections the webhook receiver writes on (batches in flight at once)
    billhook_webhook_write_connections: int = Field(default=2, ge=1, le=64)
    # Every wait on the database is bounded (seconds): opening a connection, waiting for one
    # from the pool, and one statement (client side too, so a frozen server cannot hang a request).
    billhook_db_connect_timeout: float = Field(default=5.0, gt=0)
    billhook_db_pool_timeout: float = Field(default=5.0, gt=0)
    billhook_db_statement_timeout: float = Field(default=30.0, gt=0)
    # The webhook receiver answers 503 when an event is not stored within this (Stripe retries).
    billhook_webhook_store_timeout: float = Field(default=4.0, gt=0)
    # A request body must arrive within this (408), and be at most this large (413).
    billhook_request_body_timeout: float = Field(default=30.0, gt=0)
    billhook_max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    billhook_support_email: str | None = None
    billhook_alert_email: str | None = None
    # e.g. "receipt,trial_ending": email types (EMAIL_TYPES) Billhook does not send
    billhook_emails_disabled: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # staging only: accept an sk_test_ key with BILLHOOK_ENV=production (logged loudly at start)
    billhook_allow_test_keys: bool = False
    log_level: str = "INFO"
    log_format: str = "console"
    # Analytics: a reporting currency only with rates the operator sets (never looked up):
    # BILLHOOK_REPORTING_RATES="eur=1.08,gbp=1.27" is what one unit of each is worth in it.
    billhook_reporting_currency: str = "usd"
    billhook_reporting_rates: Annotated[dict[str, Decimal], NoDecode] = Field(default_factory=dict)

    stripe_secret_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("stripe_webhook_secret", "stripe_endpoint_secret"),
    )
    stripe_api_base: str | None = None
    # Client-side limits on calls to Stripe (requests/s): the account's default is Stripe's own
    # for the key's mode (live 100, test 25), each endpoint's 25; none for the offline sandbox
    # unless set. Attempts per request when Stripe answers 429/5xx (the first included).
    billhook_stripe_rate_limit: float | None = Field(default=None, gt=0)
    billhook_stripe_endpoint_rate_limit: float | None = Field(default=None, gt=0)
    billhook_stripe_max_attempts: int = Field(default=4, ge=1, le=10)
    stripe_price_overrides: dict[str, str] = Field(default_factory=dict, exclude=True)

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from_email: str | None = None
    mailgun_api_key: str | None = None
    mailgun_domain: str | None = None
    mailgun_sender_email: str | None = None
    mailgun_api_base: str = "https://api.mailgun.net"
    smtp_security: Literal["auto", "starttls", "tls", "none"] = "auto"

    @field_validator("stripe_webhook_secret", "billhook_allowed_redirect_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("billhook_emails_disabled", mode="before")
    @classmethod
    def _email_types(cls, value: Any) -> Any:
        names = [str(name).lower() for name in _split_list(value) or []]
        unknown = sorted(set(names) - set(EMAIL_TYPES))
        if unknown:
            raise ValueError(f"unknown email type {', '.join(unknown)}; choose from {', '.join(EMAIL_TYPES)}")
        return names

    @field_validator("billhook_reporting_rates", mode="before")
    @classmethod
    def _reporting_rates(cls, value: Any) -> Any:
        return _parse_rates(value) if isinstance(value, str) else value

    @field_validator("billhook_reporting_currency")
    @classmethod
    def _reporting_currency(cls, value: str) -> str:
        return _currency_code(value)

    @field_validator("database_url", "billhook_sandbox_database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(f"{value!r} is not a redis:// URL")
        return value or None

    @field_validator("billhook_base_url", "stripe_api_base", "mailgun_api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _check_http_url(value) if value else None

    @field_validator("billhook_allowed_redirect_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [_check_http_url(origin) for origin in value]

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in {"console", "json"}:
            raise ValueError("must be 'console' or 'json'")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"{value!r} is not a log level; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if self.billhook_env is Environment.PRODUCTION:
            problems = production_problems(self)
            if problems:
                raise ValueError(problems[0])
        return self

    # -- derived facts -------------------------------------------------------------------------

    @property
    def uses_sandbox(self) -> bool:
        """No Stripe key configured: the offline sandbox is the payment provider."""
        return not self.stripe_secret_key

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def auto_migrate(self) -> bool:
        """Migrate on start: on by default for the embedded SQLite database only."""
        if self.billhook_auto_migrate is not None:
            return self.billhook_auto_migrate
        return self.is_embedded

    @property
    def disabled_email_templates(self) -> frozenset[str]:
        """The templates of the email types switched off with ``BILLHOOK_EMAILS_DISABLED``."""
        return frozenset(EMAIL_TYPES[name] for name in self.billhook_emails_disabled)

    @property
    def redirect_origins(self) -> list[str]:
        return self.billhook_allowed_redirect_origins or [self.billhook_base_url]

    @property
    def secret_key(self) -> str:
        if not self.billhook_secret_key:
            raise SettingsError("BILLHOOK_SECRET_KEY is not set")
        return self.billhook_secret_key


MIN_SECRET_KEY_BYTES = 32


def production_problems(settings: Settings) -> list[str]:
    """What makes ``settings`` unsafe to serve real customers with, each naming the setting and the fix.

    Production never falls back to the offline sandbox (it would accept the test card 4242 and
    grant paid roles), never runs on test keys unless ``BILLHOOK_ALLOW_TEST_KEYS`` says this is a
    staging deployment, cannot verify webhooks without their secret, signs sessions with a key of
    at least 32 bytes (a 256-bit HMAC key) and is reached over https only (cookies are ``Secure``).
    """
    problems: list[str] = []
    key = settings.stripe_secret_key or ""
    if not key:
        problems.append(
            "STRIPE_SECRET_KEY: required in production (the offline sandbox is never used there); "
            "set your live key sk_live_..."
        )
    elif key.startswith(("sk_test_", "rk_test_")) and not settings.billhook_allow_test_keys:
        problems.append(
            "STRIPE_SECRET_KEY: a test key (sk_test_) in production; set your live key sk_live_..., "
            "or BILLHOOK_ALLOW_TEST_KEYS=true for a staging deployment"
        )
    if not settings.stripe_webhook_secret:
        problems.append(
            "STRIPE_WEBHOOK_SECRET is required in production: without it no webhook can be verified; "
            "set the endpoint's signing secret whsec_..."
        )
    secret = settings.billhook_secret_key
    if not secret:
        problems.append(
            f"BILLHOOK_SECRET_KEY: required in production; set a random string of at least "
            f"{MIN_SECRET_KEY_BYTES} bytes (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    elif len(secret.encode()) < MIN_SECRET_KEY_BYTES:
        problems.append(
            f"BILLHOOK_SECRET_KEY: {len(secret.encode())} bytes is too short for production; set a random "
            f"string of at least {MIN_SECRET_KEY_BYTES} bytes"
        )
    if not settings.billhook_support_email:
        problems.append(
            "BILLHOOK_SUPPORT_EMAIL: required in production; every email tells customers where to write "
            "(set the address your support reads, e.g. support@yourdomain.com)"
        )
    if urlsplit(settings.billhook_base_url).scheme != "https":
        problems.append(
            f"BILLHOOK_BASE_URL: {settings.billhook_base_url!r} is not https; production is served over "
            "https only (set the public https:// URL of your proxy)"
        )
    return problems


def _price_overrides(environ: dict[str, str | None]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper.startswith(PRICE_OVERRIDE_PREFIX) and value:
            overrides[upper.removeprefix(PRICE_OVERRIDE_PREFIX).lower()] = value
    return overrides


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Build :class:`Settings` from the environment, ``.env`` and explicit overrides.

    Raises :class:`SettingsError` with the offending variable's name on bad input.
    """
    file_values: dict[str, str | None] = dict(dotenv_values(env_file)) if env_file else {}
    environ: dict[str, str | None] = {**file_values, **os.environ}
    try:
        settings = Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    settings.stripe_price_overrides = _price_overrides(environ)
    return settings


def environment_value(name: str, env_file: str | Path | None = ".env") -> str | None:
    """One variable as Billhook reads it, the environment first and then ``.env``, unvalidated.

    For commands that need a single value (the sandbox commands' service address) and must not
    fail on an unrelated setting.
    """
    value = os.environ.get(name)
    if value is None and env_file and Path(env_file).exists():
        value = dotenv_values(env_file).get(name)
    return value or None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    variable = location[0].upper() if location else "configuration"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{variable}: {message}" if location else message


def ensure_secret_key(settings: Settings, directory: Path = Path()) -> Settings:
    """Give the embedded default a stable secret key, generated once and kept on disk."""
    if settings.billhook_secret_key:
        return settings
    if settings.billhook_env is Environment.PRODUCTION:
        raise SettingsError("BILLHOOK_SECRET_KEY: required in production (a long random string)")
    path = directory / SECRET_KEY_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    settings.billhook_secret_key = path.read_text().strip()
    return settings
