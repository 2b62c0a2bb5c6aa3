"""The ``billhook`` command: one Typer app, one module per command group."""

from __future__ import annotations

import sys

import typer

from billhook.cli import (
    core,
    events,
    jobs,
    mail,
    ops,
    payments,
    products,
    products_sync,
    sandbox,
    subscriptions,
    users,
    worker,
)
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
app.add_typer(users.app, name="users", help="Users and roles.")
products.app.command("sync")(products_sync.sync)
app.add_typer(products.app, name="products", help="The product catalog.")
app.add_typer(subscriptions.app, name="subscriptions", help="Cancel or change a customer's plan.")
app.add_typer(mail.app, name="mail", help="Email: send a test message, list messages.")
app.add_typer(jobs.app, name="jobs", help="Outbox jobs: list, show, retry dead ones; outgoing hooks.")
app.add_typer(events.app, name="events", help="The webhook inbox: list, show, replay, reconcile.")
app.command("worker")(worker.worker)
app.command("setup")(ops.setup)
app.command("check")(ops.check)
app.command("logs")(ops.logs)
app.add_typer(ops.webhooks_app, name="webhooks", help="Send a signed test event through the inbox.")
app.add_typer(payments.app, name="payments", help="Payments: list, retry, refund.")


def main() -> None:
    try:
        app()
    except (SettingsError, BillhookError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2 if isinstance(exc, SettingsError) else 1)
