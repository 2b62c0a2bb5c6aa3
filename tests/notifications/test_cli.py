"""``billhook mail test TO`` and ``billhook mail list``."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from billhook.cli.mail import app
from billhook.db import create_engine, create_session_factory
from billhook.notifications import queue_email, repository
from billhook.notifications.repository import EmailStatus
from tests.support import notification_factories as factories
from tests.support.mail import SmtpInbox

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI reads its settings from the environment: point it at the test database only."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "SMTP_HOST",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "SMTP_FROM_EMAIL",
        "MAILGUN_API_KEY",
        "MAILGUN_DOMAIN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BILLHOOK_ENV", "test")
    return database_url


@pytest.fixture
def smtp_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings for the SMTP sender; its database is never opened (the message bypasses it)."""
    monkeypatch.chdir(tmp_path)
    for name in ("SMTP_USER", "SMTP_PASSWORD", "MAILGUN_API_KEY", "MAILGUN_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-opened.db'}")
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_FROM_EMAIL", "hello@coachly.example")


@pytest.fixture
def smtp_controller() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def _seed(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            await queue_email(
                session,
                template="welcome",
                to="ada@example.com",
                context=factories.welcome(),
                key_object="usr_01ADA",
            )
            await queue_email(session, template="refund_issued", to="grace@example.com",
                              context=factories.refund_issued(), key_object="re_01X")  # fmt: skip
            row = await repository.get_by_key(session, "email:refund_issued:grace@example.com:re_01X")
            assert row is not None
            await repository.record_attempt(
                session, row.id, status=EmailStatus.FAILED, error="SMTP 550: no such user"
            )
            await session.commit()
    finally:
        await engine.dispose()


def test_mail_test_through_the_mailbox_stores_the_message(cli_env: str) -> None:
    result = runner.invoke(app, ["test", "ada@example.com"])

    assert result.exit_code == 0, result.output
    assert "sent a test message to ada@example.com through mailbox" in result.output
    listed = runner.invoke(app, ["list", "--json"])
    [message] = json.loads(listed.output)
    assert (message["to"], message["status"], message["template"], message["subject"]) == (
        "ada@example.com", "sent", "test_message", "Test message from Billhook"
    )  # fmt: skip


def test_mail_test_through_smtp_delivers_right_away(
    smtp_env: None, smtp_controller: tuple[SmtpInbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp_controller
    monkeypatch.setenv("SMTP_PORT", str(port))

    result = runner.invoke(app, ["test", "Ada <ada@example.com>"])

    assert result.exit_code == 0, result.output
    assert "through smtp" in result.output
    [received] = inbox.messages
    assert received["To"] == "Ada <ada@example.com>"
    assert received["From"] == "Billhook <hello@coachly.example>"
    assert "sent through the smtp sender" in received.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_mail_test_reports_a_failing_server_and_exits_1(
    smtp_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PORT", str(_free_port()))

    result = runner.invoke(app, ["test", "ada@example.com"])

    assert result.exit_code == 1
    assert "error: sending failed (transient): SMTP connection failed" in result.output


def test_mail_test_refuses_a_bad_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["test", "ada@"])

    assert result.exit_code == 1
    assert "error: to: 'ada@' is not a valid email address" in result.output


def test_mail_list_shows_status_attempts_and_errors(cli_env: str) -> None:
    asyncio.run(_seed(cli_env))

    everything = runner.invoke(app, ["list"])
    failed = runner.invoke(app, ["list", "--status", "failed", "--json"])

    assert everything.exit_code == 0
    assert "welcome" in everything.output and "refund_issued" in everything.output
    assert "SMTP 550: no such user" in everything.output
    [message] = json.loads(failed.output)
    assert (message["to"], message["status"], message["attempts"], message["last_error"]) == (
        "grace@example.com",
        "failed",
        1,
        "SMTP 550: no such user",
    )


def test_mail_list_refuses_an_unknown_status() -> None:
    result = runner.invoke(app, ["list", "--status", "lost"])

    assert result.exit_code == 2
    assert "lost" in result.output
