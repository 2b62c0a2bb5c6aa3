"""The ``billhook`` command: one Typer app, one module per command group."""

from __future__ import annotations

import sys

import typer

from billhook.cli import core, sandbox
from billhook.config import SettingsError
from billhook.errors import BillhookError

app = typer.Typer(
    name="billhook",
    help="Billhook: self-hosted payments and subscriptions on Stripe.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
core.register(app)
app.add_typer(sandbox.app, name="sandbox", help="The offline Stripe-compatible sandbox.")


def main() -> None:
    try:
        app()
    except (SettingsError, BillhookError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2 if isinstance(exc, SettingsError) else 1)
