"""The operations commands wired the way the lead registers them, and the environment a CLI run
sees when it talks to the module's running stack."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from billhook.cli.ops import check, logs, setup, webhooks_app
from billhook.cli.payments import app as payments_app
from billhook.cli.products_sync import sync
from tests.support.stack import CATALOG, Stack

ENV_NAMES = (
    "DATABASE_URL",
    "BILLHOOK_BASE_URL",
    "STRIPE_API_BASE",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "BILLHOOK_SECRET_KEY",
    "BILLHOOK_CATALOG",
    "BILLHOOK_AUTO_MIGRATE",
    "BILLHOOK_ENV",
    "REDIS_URL",
)


def billhook_cli() -> typer.Typer:
    app = typer.Typer()
    app.command("setup")(setup)
    app.command("check")(check)
    app.command("logs")(logs)
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(payments_app, name="payments")
    products = typer.Typer()
    products.command("sync")(sync)
    app.add_typer(products, name="products")
    return app


async def invoke(*args: str, answers: str | None = None) -> Result:
    """Run a command; ``answers`` is what a person types at its prompts, one line each."""
    # The commands call asyncio.run: give them a thread of their own, away from the test's loop.
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(billhook_cli(), list(args), input=answers))


def output_lines(result: Result, *, json_only: bool = False) -> list[str]:
    """The command's lines without the served stack's log lines, which share captured stdout."""
    lines = [line for line in result.output.splitlines() if "[info " not in line and "[warning" not in line]
    lines = [line for line in lines if '"level": "' not in line]  # a served stack's JSON log line
    return [line for line in lines if line[:1] in "[{"] if json_only else lines


async def webhook_secret(stack: Stack) -> str:
    sandbox = stack.runtime.sandbox
    assert sandbox is not None
    future = asyncio.run_coroutine_threadsafe(
        sandbox.ensure_webhook_endpoint(f"{stack.root}/api/payments/webhook"), stack.server.loop
    )
    _, secret = await asyncio.wrap_future(future)
    return str(secret)


def clear_env(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    monkeypatch.chdir(cwd)  # no developer .env
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


async def point_at(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, cwd: Path, *, catalog: Path = CATALOG, secret: bool = True
) -> None:
    """Environment variables for a CLI run against ``stack``."""
    clear_env(monkeypatch, cwd)
    values = {
        "DATABASE_URL": stack.runtime.settings.database_url,
        "BILLHOOK_BASE_URL": stack.root,
        "STRIPE_API_BASE": stack.api_base,
        "BILLHOOK_SECRET_KEY": stack.runtime.settings.secret_key,
        "BILLHOOK_CATALOG": str(catalog),
        "BILLHOOK_AUTO_MIGRATE": "false",
    }
    if secret:
        values["STRIPE_WEBHOOK_SECRET"] = await webhook_secret(stack)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
