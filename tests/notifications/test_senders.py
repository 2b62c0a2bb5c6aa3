"""build_mailer picks the sender from settings and says so; half a configuration is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from billhook.config import SettingsError
from billhook.db import create_engine, create_session_factory
from billhook.notifications import (
    DEAD_LETTER_ALERT,
    EMAIL_SEND,
    OutgoingEmail,
    attach_notifications,
    build_mailer,
)
from billhook.notifications.mailer import Mailer
from billhook.runtime import Runtime
from tests.support.databases import PRODUCTION, make_settings


def _build(**overrides: Any) -> tuple[Mailer, list[dict[str, Any]]]:
    settings = make_settings(
        "sqlite:///unused.db", billhook_base_url="https://coaching.example.com", **overrides
    )
    factory = create_session_factory(create_engine(settings.database_url))
    with capture_logs() as logs:
        mailer = build_mailer(settings, factory)
    return mailer, logs


def test_smtp_host_selects_smtp() -> None:
    mailer, logs = _build(
        smtp_host="smtp.example.com", smtp_port=465, smtp_from_email="hello@coachly.example",
        mailgun_api_key="key-x", mailgun_domain="mg.example.com",
    )  # fmt: skip

    assert mailer.name == "smtp"
    assert [(log["event"], log["sender"], log["host"]) for log in logs] == [
        ("mailer_selected", "smtp", "smtp.example.com")
    ]


def test_mailgun_needs_both_key_and_domain() -> None:
    mailer, logs = _build(mailgun_api_key="key-x", mailgun_domain="mg.example.com")

    assert mailer.name == "mailgun"
    assert logs[0]["sender"] == "mailgun"
    with pytest.raises(SettingsError, match="MAILGUN_DOMAIN"):
        _build(mailgun_api_key="key-x")


def test_no_sender_settings_select_the_mailbox_with_a_warning() -> None:
    mailer, logs = _build()

    assert mailer.name == "mailbox"
    [log] = logs
    assert (log["log_level"], log["sender"]) == ("warning", "mailbox")
    assert log["read_them_at"] == "https://coaching.example.com/dev/mailbox"


def test_smtp_without_a_from_address_stops_start_up() -> None:
    with pytest.raises(SettingsError, match="SMTP_FROM_EMAIL: required"):
        _build(smtp_host="smtp.example.com")
    with pytest.raises(SettingsError, match=r"SMTP_FROM_EMAIL: .*not a valid email address"):
        _build(smtp_host="smtp.example.com", smtp_from_email="hello at coachly")


def test_secrets_never_reach_the_start_up_log() -> None:
    _, logs = _build(
        smtp_host="smtp.example.com", smtp_user="hello@coachly.example", smtp_password="hunter2-pw"
    )
    _, more = _build(mailgun_api_key="key-3ax6xnjp29jd6fds4gc373sgvjxteol0", mailgun_domain="mg.example.com")

    text = repr(logs + more)
    assert "hunter2-pw" not in text and "key-3ax6" not in text


async def test_attach_wires_the_mailer_jobs_and_its_closing(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'unused.db'}", mailgun_api_key="key-x", mailgun_domain="mg.example.com"
    )
    runtime = Runtime.build(settings)

    mailer = attach_notifications(runtime)

    assert runtime.mailer is mailer and mailer.name == "mailgun"
    assert {EMAIL_SEND, DEAD_LETTER_ALERT} <= set(runtime.jobs.types())
    await runtime.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await mailer.send(OutgoingEmail(to="ada@example.com", subject="s", text="t"))


def test_no_sender_in_production_is_an_error_in_the_log() -> None:
    mailer, logs = _build(**PRODUCTION)

    assert mailer.name == "mailbox"
    assert logs[0]["log_level"] == "error"
