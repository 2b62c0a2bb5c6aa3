"""``billhook events``: list, show, replay and reconcile, with clear errors and exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from billhook.cli.events import app, parse_since
from billhook.errors import InvalidInput
from billhook.models import InboxEvent, InboxStatus
from tests.support.cli import output_lines
from tests.support.inbox import InboxStack, settled

runner = CliRunner()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BILLHOOK_ENV", "test")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)


async def invoke(*args: str) -> Result:
    return await asyncio.to_thread(runner.invoke, app, list(args))


def text(result: Result) -> str:
    """The command's own output: the served stack's log lines share the captured stdout."""
    return "\n".join(output_lines(result)).strip()


def test_parse_since() -> None:
    assert parse_since("24h").total_seconds() == 86_400  # type: ignore[union-attr]
    assert parse_since("7d").days == 7  # type: ignore[union-attr]
    assert parse_since("2026-01-01T00:00:00").tzinfo is not None  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        parse_since("yesterday")


@pytest.mark.usefixtures("environment")
async def test_list_show_replay_reconcile_and_bad_input(
    stack: InboxStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert text(await invoke("list")) == "no events"
    await stack.server.connect_webhooks()
    await stack.shop.customer("cli@example.com")
    await settled(stack.server)
    listed = await invoke("list", "--json")
    assert listed.exit_code == 0, listed.output
    rows: list[dict[str, Any]] = json.loads(text(listed))
    assert [r["type"] for r in rows] == ["customer.created"] and rows[0]["status"] == "pending"
    shown = await invoke("show", rows[0]["event_id"])
    assert json.loads(text(shown))["payload"]["type"] == "customer.created"
    assert text(await invoke("list", "--status", "failed")) == "no events"
    bad = await invoke("list", "--status", "exploded")
    assert bad.exit_code == 1 and "unknown status" in bad.output
    missing = await invoke("show", "evt_nope")
    assert missing.exit_code == 1 and "no inbox event" in missing.output
    assert (await invoke("reconcile", "--since", "soon")).exit_code == 1

    # A dead letter is listed with its error, replayed (twice: the second changes nothing), and
    # an event missing from the inbox is brought back by reconcile.
    monkeypatch.setenv("STRIPE_API_BASE", stack.server.api_base)
    customer_id = rows[0]["object_id"]
    async with stack.runtime.session_factory() as session:
        await session.execute(
            update(InboxEvent).values(
                status=InboxStatus.DEAD.value, attempts=8, last_error="ProviderError: down"
            )
        )
        await session.commit()
    dead = json.loads(text(await invoke("list", "--status", "dead", "--json")))
    assert [row["last_error"] for row in dead] == ["ProviderError: down"]
    replayed = await invoke("replay", dead[0]["event_id"])
    assert replayed.exit_code == 0 and text(replayed).endswith("processed"), replayed.output
    again = await invoke("replay", dead[0]["event_id"])
    assert again.exit_code == 0
    async with stack.runtime.session_factory() as session:
        row = await session.scalar(select(InboxEvent).where(InboxEvent.object_id == customer_id))
        assert row is not None and row.status == "processed"
        await session.execute(InboxEvent.__table__.delete())
        await session.commit()
    reconciled = await invoke("reconcile", "--since", "1h")
    assert reconciled.exit_code == 0 and "stored 1 missing" in reconciled.output, reconciled.output
