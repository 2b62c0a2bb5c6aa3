"""``billhook sandbox`` commands against a running sandbox, and ``serve`` in its own process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from billhook.cli.sandbox import app
from billhook.providers.sandbox import SandboxConfig
from billhook.providers.sandbox.store import Store
from tests.support.sandbox import Harness, free_port
from tests.support.sandbox_factories import make_price, subscribe

runner = CliRunner()


def run(h: Harness, *args: str) -> str:
    result = runner.invoke(app, [*args, "--api-base", h.base])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["reset"],
        ["advance"],
        ["clock"],
        ["webhook", "add"],
        ["webhook", "list"],
        ["chaos"],
        ["deliveries"],
        ["dispute"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


async def test_webhook_add_then_list(sandbox: Harness) -> None:
    added = await asyncio.to_thread(
        run, sandbox, "webhook", "add", f"{sandbox.root}/hooks", "--event", "customer.created"
    )
    assert "whsec_" in added
    listed = await asyncio.to_thread(run, sandbox, "webhook", "list")
    assert f"{sandbox.root}/hooks" in listed and "customer.created" in listed


async def test_advance_moves_the_clock_and_runs_renewals(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price)
    output = await asyncio.to_thread(run, sandbox, "advance", "--days", "32")
    assert "(32 days ahead of real time)" in output
    invoices = await sandbox.client.v1.invoices.list_async(params={"subscription": sub.id})
    assert invoices.data[0].billing_reason == "subscription_cycle"


async def test_chaos_and_deliveries(sandbox: Harness) -> None:
    assert "drop=1.0" in await asyncio.to_thread(run, sandbox, "chaos", "--drop", "1")
    await asyncio.to_thread(run, sandbox, "webhook", "add", f"{sandbox.root}/hooks")
    await sandbox.client.v1.customers.create_async(params={"email": "a@example.com"})
    log = await asyncio.to_thread(run, sandbox, "deliveries")
    assert "customer.created" in log and "dropped" in log
    assert "drop=0.0" in await asyncio.to_thread(run, sandbox, "chaos", "--off")


async def test_dispute_command_opens_a_dispute(sandbox: Harness) -> None:
    intent = await sandbox.client.v1.payment_intents.create_async(
        params={"amount": 700, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    output = await asyncio.to_thread(run, sandbox, "dispute", str(intent.latest_charge))
    assert "needs_response" in output
    assert "charge.dispute.created" in await sandbox.event_types()


def test_unreachable_sandbox_is_a_clear_error() -> None:
    result = runner.invoke(app, ["clock", "--api-base", f"http://127.0.0.1:{free_port()}/sandbox"])
    assert result.exit_code == 1 and "start Billhook with 'billhook serve'" in result.output


def test_serve_runs_the_sandbox_alone_and_reset_clears_its_file(tmp_path: Path) -> None:
    port, db = free_port(), f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}"
    command = [
        sys.executable,
        "-c",
        "from billhook.cli.sandbox import app; app()",
        "serve",
        "--port",
        str(port),
        "--db",
        db,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/sandbox"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                created = httpx.post(
                    f"{base}/v1/customers",
                    data={"email": "a@example.com"},
                    headers={"Authorization": "Bearer sk_test_cli"},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "billhook sandbox serve did not start"
                time.sleep(0.1)
        assert created.status_code == 200 and created.json()["object"] == "customer"
        assert httpx.get(f"{base}/checkout/cs_test_missing").status_code == 404
    finally:
        process.terminate()
        process.wait(10)
    assert asyncio.run(_customers(db)) == 1
    assert runner.invoke(app, ["reset", "--db", db]).exit_code == 0
    assert asyncio.run(_customers(db)) == 0


async def _customers(db: str) -> int:
    store = Store(SandboxConfig(database_url=db))
    try:
        async with store.transaction() as tx:
            return len(await tx.find("customer"))
    finally:
        await store.dispose()
