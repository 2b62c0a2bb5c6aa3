"""``billhook subscriptions cancel|change-plan`` and ``billhook products sync`` against the served sandbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner, Result

from billhook.cli.products_sync import sync
from billhook.cli.subscriptions import app as subscriptions_app
from billhook.models import CancellationRecord, Price
from tests.support.cli import output_lines
from tests.support.stack import CATALOG, Stack
from tests.support.subscriptions import overview, subscribed


@pytest.fixture
def cli_env(stack: Stack, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no developer .env
    settings = stack.runtime.settings
    for name, value in {
        "DATABASE_URL": database_url,
        "BILLHOOK_BASE_URL": stack.root,
        "STRIPE_API_BASE": stack.api_base,
        "BILLHOOK_SECRET_KEY": settings.secret_key,
        "BILLHOOK_CATALOG": str(CATALOG),
        "BILLHOOK_AUTO_MIGRATE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def said(result: Result) -> str:
    """What the command printed, without the served stack's log lines (they share the capture:
    a background job logging while the command runs lands in its output)."""
    return "\n".join(output_lines(result)).strip()


async def invoke(app: typer.Typer, *args: str) -> Result:
    # The commands call asyncio.run: give them a thread of their own, away from the test's loop.
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args)))


def products_app() -> typer.Typer:
    app = typer.Typer()
    app.command("sync")(sync)
    return app


async def test_cancel_unknown_email_or_no_subscription_is_one_line_and_exit_1(
    stack: Stack, cli_env: Path
) -> None:
    await stack.register("bob@example.com")
    await stack.settled()  # the welcome email is sent (and logged) before the CLI's output is read
    unknown = await invoke(subscriptions_app, "cancel", "ghost@example.com")
    bare = await invoke(subscriptions_app, "cancel", "bob@example.com")
    assert (unknown.exit_code, said(unknown)) == (1, "error: no user with email ghost@example.com")
    assert (bare.exit_code, said(bare)) == (1, "error: you have no subscription")


async def test_cancel_at_period_end_then_now(stack: Stack, cli_env: Path) -> None:
    ada = await subscribed(stack)
    sub_id = (await overview(stack, ada))["subscription_id"]

    later = await invoke(
        subscriptions_app, "cancel", "ada@example.com", "--reason", "asked by phone", "--json"
    )

    assert later.exit_code == 0, later.output
    assert json.loads(said(later))["cancel_at_period_end"] is True
    assert (await stack.provider.get_subscription(sub_id)).cancel_at_period_end is True

    now = await invoke(subscriptions_app, "cancel", "ada@example.com", "--now")

    assert now.exit_code == 0, now.output
    assert "canceled now; status canceled" in now.output
    assert (await stack.provider.get_subscription(sub_id)).status == "canceled"
    async with stack.db() as session:
        records = list(
            await session.scalars(select(CancellationRecord).order_by(CancellationRecord.created_at))
        )
    assert [(r.requested_by, r.at_period_end) for r in records] == [("cli", True), ("cli", False)]


async def test_change_plan_previews_then_applies(stack: Stack, cli_env: Path) -> None:
    ada = await subscribed(stack, product_id="enterprise_sub")

    preview = await invoke(
        subscriptions_app, "change-plan", "ada@example.com", "--plan", "premium_sub", "--preview"
    )
    assert preview.exit_code == 0, preview.output
    assert said(preview).startswith("due now for premium_sub:")
    assert (await overview(stack, ada))["plan"] == "enterprise_sub"

    applied = await invoke(subscriptions_app, "change-plan", "ada@example.com", "--plan", "premium_sub")
    assert applied.exit_code == 0, applied.output
    assert "is now on premium_sub" in applied.output
    sub_id = (await overview(stack, ada))["subscription_id"]
    price = (await stack.provider.get_subscription(sub_id)).items[0].price_id
    async with stack.db() as session:
        key = await session.scalar(select(Price.lookup_key).where(Price.stripe_id == price))
    assert key == "billhook:premium_sub:usd:v1"

    unknown = await invoke(subscriptions_app, "change-plan", "ada@example.com", "--plan", "platinum")
    assert unknown.exit_code == 1 and "platinum" in unknown.output


async def test_products_sync_is_idempotent_and_dry_run_changes_nothing(
    stack: Stack, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = await invoke(products_app(), "--dry-run")
    assert (same.exit_code, said(same)) == (0, "nothing to change")

    changed = cli_env / "billhook.toml"
    changed.write_text(
        CATALOG.read_text().replace("prices = { usd = 4900, eur = 4500 }", "prices = { usd = 5900 }")
    )
    monkeypatch.setenv("BILLHOOK_CATALOG", str(changed))

    dry = await invoke(products_app(), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would create price billhook:starter:usd:v1 (5900 usd, moving the lookup key)" in dry.output
    assert any(line.startswith("would deactivate price") for line in dry.output.splitlines())
    before = await stack.provider.client.v1.prices.list_async({"lookup_keys": ["billhook:starter:usd:v1"]})
    assert before.data[0].unit_amount == 4900

    applied = await invoke(products_app())
    assert applied.exit_code == 0, applied.output
    after = await stack.provider.client.v1.prices.list_async({"lookup_keys": ["billhook:starter:usd:v1"]})
    assert after.data[0].unit_amount == 5900
    async with stack.db() as session:
        recorded = await session.scalar(
            select(Price.stripe_id).where(Price.lookup_key == "billhook:starter:usd:v1")
        )
    assert recorded == after.data[0].id
    again = await invoke(products_app())
    assert said(again) == "nothing to change"
