"""``billhook mail test TO`` and ``billhook mail list``: check and inspect email delivery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import typer

from billhook.cli.tables import print_table
from billhook.config import Settings, load_settings
from billhook.db import create_engine, create_session_factory
from billhook.errors import InvalidInput
from billhook.kit.formatting import format_datetime
from billhook.models import EmailMessage
from billhook.notifications import MailError, OutgoingEmail, PermanentMailError, build_mailer, render_email
from billhook.notifications import repository as email_repository
from billhook.notifications.addresses import parse_recipient
from billhook.notifications.brand import Brand
from billhook.notifications.mailbox import TEMPLATE_HEADER
from billhook.notifications.repository import EmailStatus

app = typer.Typer(help="Send a test email and list sent, queued or failed emails.", no_args_is_help=True)


async def _send_test(settings: Settings, to: str) -> str:
    recipient = parse_recipient(to)
    engine = create_engine(settings.database_url)
    try:
        mailer = build_mailer(settings, create_session_factory(engine))
        try:
            brand = Brand.from_settings(settings)
            rendered = render_email("test_message", {"transport": mailer.name}, brand)
            message = OutgoingEmail(
                to=recipient.formatted,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                headers={"Reply-To": brand.support_email, TEMPLATE_HEADER: "test_message"},
            )
            result = await mailer.send(message)
        finally:
            await mailer.aclose()
    finally:
        await engine.dispose()
    return f"sent a test message to {recipient.address} through {result.transport}" + (
        f" (id {result.message_id})" if result.message_id else ""
    )


@app.command("test")
def test_command(to: str = typer.Argument(..., help="Recipient address.")) -> None:
    """Send a test message right away through the configured sender (not via the outbox)."""
    settings = load_settings()
    try:
        outcome = asyncio.run(_send_test(settings, to))
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except MailError as exc:
        kind = "permanent" if isinstance(exc, PermanentMailError) else "transient"
        typer.echo(f"error: sending failed ({kind}): {exc.reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo(outcome)


async def _list(settings: Settings, status: EmailStatus | None, limit: int) -> Sequence[EmailMessage]:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            return await email_repository.list_messages(session, status=status, limit=limit)
    finally:
        await engine.dispose()


def _as_json(message: EmailMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "created_at": message.created_at.isoformat(),
        "template": message.template,
        "to": message.to_email,
        "subject": message.subject,
        "status": message.status,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
    }


@app.command("list")
def list_command(
    status: EmailStatus | None = typer.Option(None, "--status", help="Only queued, sent or failed."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON array instead of a table."),
) -> None:
    """List emails newest first, with status, attempts and the last error."""
    messages = asyncio.run(_list(load_settings(), status, limit))
    if as_json:
        typer.echo(json.dumps([_as_json(message) for message in messages], indent=2))
        return
    print_table(
        ("created", "status", "attempts", "template", "to", "subject", "last error"),
        (
            (
                format_datetime(m.created_at),
                m.status,
                m.attempts,
                m.template,
                m.to_email,
                m.subject,
                m.last_error or "",
            )
            for m in messages
        ),
        empty="no emails" + (f" with status {status.value}" if status else ""),
    )
