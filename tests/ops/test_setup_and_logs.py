"""``billhook setup`` (writes .env, migrates, syncs, registers the endpoint and keeps its secret)
and ``billhook logs`` (the billing event log with its filters and --follow)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from billhook.audit import Cause, record
from billhook.ops import logs as audit_log
from tests.support.cli import clear_env, invoke, output_lines, point_at
from tests.support.payments import People, book, pay_booking, wait_payment
from tests.support.stack import CATALOG, Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_setup_writes_env_registers_the_endpoint_once_and_check_then_passes(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = shared_stack
    clear_env(monkeypatch, tmp_path)
    (tmp_path / ".env").write_text("# mine\nLOG_LEVEL=info\n")
    # Another host name for the same server: an endpoint the sandbox does not have yet.
    base = stack.root.replace("127.0.0.1", "localhost")
    flags = ["--database-url", stack.runtime.settings.database_url, "--base-url", base,
             "--stripe-api-base", stack.api_base, "--catalog", str(CATALOG)]  # fmt: skip
    first = await invoke("setup", *flags)
    assert first.exit_code == 0, first.output
    assert "✓ database migrated" in first.output and "✓ products synced" in first.output
    assert f"✓ webhook endpoint {base}/api/payments/webhook registered" in first.output
    env = (tmp_path / ".env").read_text()
    assert env.startswith("# mine\nLOG_LEVEL=info\n") and f"BILLHOOK_BASE_URL={base}\n" in env
    secret_line = next(line for line in env.splitlines() if line.startswith("STRIPE_WEBHOOK_SECRET="))
    assert secret_line.startswith("STRIPE_WEBHOOK_SECRET=whsec_")
    assert "whsec_" not in first.output  # a secret is stored, never printed
    try:
        second = await invoke("setup", *flags)
        assert second.exit_code == 0, second.output
        assert "already registered" in second.output
        assert (tmp_path / ".env").read_text().count("STRIPE_WEBHOOK_SECRET=") == 1
        assert secret_line in (tmp_path / ".env").read_text()
        monkeypatch.setenv("BILLHOOK_SECRET_KEY", stack.runtime.settings.secret_key)
        checked = await invoke("check")
        assert "✓ webhook endpoint" in checked.output and "✓ webhook secret" in checked.output, checked.output
    finally:
        for endpoint in await stack.actions.list_webhook_endpoints():
            if endpoint.url.startswith(base):
                await stack.provider.client.v1.webhook_endpoints.update_async(endpoint.id, {"disabled": True})


async def test_setup_asks_for_each_value_when_run_as_a_wizard(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = shared_stack
    clear_env(monkeypatch, tmp_path)
    base = "http://wizard.example.test:8443"  # registered with the sandbox, never called by setup
    # Database URL, public URL, secret key (empty: the sandbox), publishable key (empty).
    typed = f"{stack.runtime.settings.database_url}\n{base}\n\n\n"
    flags = ["--interactive", "--skip-sync", "--catalog", str(CATALOG), "--stripe-api-base", stack.api_base]
    result = await invoke("setup", *flags, answers=typed)
    try:
        assert result.exit_code == 0, result.output
        assert "Database URL" in result.output and "Stripe secret key" in result.output
        env = (tmp_path / ".env").read_text()
        assert f"DATABASE_URL={stack.runtime.settings.database_url}\n" in env
        assert f"BILLHOOK_BASE_URL={base}\n" in env
        assert "STRIPE_SECRET_KEY" not in env
        assert "STRIPE_WEBHOOK_SECRET=whsec_" in env
    finally:
        for endpoint in await stack.actions.list_webhook_endpoints():
            if endpoint.url.startswith(base):
                await stack.provider.client.v1.webhook_endpoints.update_async(endpoint.id, {"disabled": True})


async def test_setup_refuses_an_endpoint_whose_secret_it_does_not_have(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_env(monkeypatch, tmp_path)
    settings = shared_stack.runtime.settings
    flags = ["--database-url", settings.database_url, "--base-url", shared_stack.root, "--skip-sync",
             "--stripe-api-base", shared_stack.api_base, "--catalog", str(CATALOG)]  # fmt: skip
    result = await invoke("setup", *flags)
    assert result.exit_code == 1
    assert "has no STRIPE_WEBHOOK_SECRET" in result.output.splitlines()[-1]


async def test_logs_show_a_customers_billing_history_newest_last(
    shared_stack: Stack, people: People, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    started = await pay_booking(stack, people, booking["id"])
    await wait_payment(stack, started["payment_id"], "SUCCEEDED")
    await point_at(stack, monkeypatch, tmp_path)
    shown = await invoke("logs", "--since", "1h", "--customer", people.client.email)
    assert shown.exit_code == 0, shown.output
    lines = output_lines(shown)
    assert any("payment.synced" in line and "status PENDING→SUCCEEDED" in line for line in lines), (
        shown.output
    )
    times = [line[:20] for line in lines]
    assert times == sorted(times)  # newest last
    typed = await invoke("logs", "--type", "payment_intent.*", "--json")
    entries = [json.loads(line) for line in output_lines(typed, json_only=True)]
    assert entries and all(
        (e["event_type"] or "").startswith("payment_intent.") or e["action"].startswith("payment_intent.")
        for e in entries
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--customer", "ghost@example.com"), "error: no customer with email ghost@example.com"),
        (("--since", "yesterday"), "error: --since 'yesterday': use e.g. 24h, 30m, 7d or an ISO time"),
    ],
)
async def test_logs_bad_input_is_one_line_and_exit_1(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    await point_at(shared_stack, monkeypatch, tmp_path)
    result = await invoke("logs", *args)
    assert (result.exit_code, result.output.strip().splitlines()[-1]) == (1, message)


async def test_follow_yields_entries_as_they_are_written(shared_stack: Stack) -> None:
    stack = shared_stack
    async with stack.db() as session:
        spec = await audit_log.filter_for(session, since=None, type_glob="ops.test.*", email=None)
        before = await audit_log.recent(session, spec)
    seen: list[str] = []

    async def write() -> None:
        for n in range(2):
            async with stack.db() as session:
                await record(
                    session,
                    Cause(actor="cli"),
                    action="ops.test.followed",
                    subject_type="test",
                    subject_id=f"t{n}",
                )
                await session.commit()

    writer = asyncio.create_task(write())
    async for entry in audit_log.follow(
        stack.db, spec, before[-1] if before else None, poll_seconds=0.05, stop=lambda: len(seen) >= 2
    ):
        seen.append(audit_log.entry_line(entry))
    await writer
    assert [line.split()[-2:] for line in seen] and all("ops.test.followed" in line for line in seen)
    assert [line.split("test ")[1].split()[0] for line in seen] == ["t0", "t1"]
