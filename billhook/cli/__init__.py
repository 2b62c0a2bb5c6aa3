"""The ``billhook`` command: one Typer app, one module per command group, imported on use.

A command's module is imported only when that command runs (:class:`LazyGroup`), so
``billhook --help`` and ``billhook version`` answer without loading the web application,
SQLAlchemy or the Stripe SDK. Each entry of :data:`COMMANDS` names where its command lives and
the one-line help shown in ``billhook --help``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer._click import Command, Context, HelpFormatter  # Typer's own click
from typer.core import TyperGroup


@dataclass(frozen=True, slots=True)
class Lazy:
    """``module:attribute`` holding a command function or a ``typer.Typer`` group."""

    target: str
    help: str

    def load(self, name: str) -> Command:
        module_name, _, attribute = self.target.partition(":")
        obj = getattr(importlib.import_module(module_name), attribute)
        if isinstance(obj, typer.Typer):
            group = typer.main.get_group(obj)
            group.name = name
            group.help = group.help or self.help
            return group
        if isinstance(obj, Command):
            return obj
        single = typer.Typer()
        single.command(name, help=obj.__doc__ or self.help)(obj)
        return typer.main.get_command(single)


COMMANDS: dict[str, Lazy] = {
    "init": Lazy("billhook.cli.init:init", "Write a commented billhook.toml and .env to start from."),
    "serve": Lazy("billhook.cli.core:serve", "Run the HTTP service (and, by default, its workers)."),
    "setup": Lazy("billhook.cli.ops:setup", "First run: .env, migrate, sync products, the webhook."),
    "check": Lazy("billhook.cli.ops:check", "Keys, webhook secret, catalog prices, endpoint: ✓/✗."),
    "worker": Lazy("billhook.cli.worker:worker", "Standalone inbox and outbox workers."),
    "migrate": Lazy("billhook.cli.core:migrate_command", "Apply database migrations."),
    "logs": Lazy("billhook.cli.ops:logs", "The billing event log."),
    "webhooks": Lazy("billhook.cli.ops:webhooks_app", "Send a signed test event through the inbox."),
    "products": Lazy("billhook.cli.products:app", "The product catalog: list, sync."),
    "subscriptions": Lazy("billhook.cli.subscriptions:app", "Cancel or change a customer's plan."),
    "payments": Lazy("billhook.cli.payments:app", "Payments: list, retry, refund."),
    "analytics": Lazy("billhook.cli.analytics:app", "Revenue figures as a table; rebuild the MRR ledger."),
    "users": Lazy("billhook.cli.users:app", "Users and roles."),
    "events": Lazy("billhook.cli.events:app", "The webhook inbox: list, show, replay, reconcile."),
    "jobs": Lazy("billhook.cli.jobs:app", "Outbox jobs: list, show, retry dead ones; outgoing hooks."),
    "mail": Lazy("billhook.cli.mail:app", "Email: send a test message, list messages."),
    "sandbox": Lazy("billhook.cli.sandbox:app", "The offline Stripe-compatible sandbox."),
}


class LazyGroup(TyperGroup):
    """A Typer group whose subcommands are imported when invoked, not when listed."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        lazy = COMMANDS.get(cmd_name)
        if lazy is not None:
            return lazy.load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, command.get_short_help_str()) for name, command in self.commands.items()]
        rows += [(name, lazy.help) for name, lazy in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="billhook",
    cls=LazyGroup,
    help="Billhook: self-hosted payments and subscriptions on Stripe.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: listing commands must not import them
)


@app.callback()
def billhook() -> None:
    """Billhook: self-hosted payments and subscriptions on Stripe."""


@app.command()
def version() -> None:
    """Print Billhook's version."""
    from billhook import __version__  # noqa: PLC0415

    typer.echo(f"billhook {__version__}")


def main(args: list[str] | None = None) -> Any:
    """The ``billhook`` executable: a configuration or Billhook error is one line and an exit code."""
    try:
        return app(args)
    except Exception as exc:
        from billhook.config import SettingsError  # noqa: PLC0415 (only on the error path)
        from billhook.errors import BillhookError  # noqa: PLC0415

        if isinstance(exc, SettingsError | BillhookError):
            typer.echo(f"error: {exc}", err=True)
            sys.exit(2 if isinstance(exc, SettingsError) else 1)
        raise
