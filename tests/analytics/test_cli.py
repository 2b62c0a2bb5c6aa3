"""``billhook analytics``: the API's figures as a table or JSON; ``rebuild`` fills the ledger once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from billhook.analytics.api_schemas import MetricsOut
from billhook.analytics.periods import parse_period
from billhook.analytics.service import overview
from billhook.cli import app as billhook_app
from billhook.db import create_engine, create_session_factory
from billhook.models import MrrMovement
from billhook.providers.stripe import mapping
from tests.support.analytics_factories import changed, day, event, ledger, subscription, sync

T = TypeVar("T")
runner = CliRunner()
JANUARY = ["--period", "custom", "--from", "2026-01-01", "--to", "2026-01-31", "--interval", "week"]


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    return {"DATABASE_URL": database_url, "BILLHOOK_AUTO_MIGRATE": "false"}


def in_session(database_url: str, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                result = await action(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _seed(session: AsyncSession) -> None:
    basic = subscription("sub_1", "cus_1", amount=2000, start=day(-40))
    await sync(session, basic)
    await sync(session, subscription("sub_2", "cus_2", amount=200_000, interval="year", start=day(3)))
    await sync(session, changed(basic, unit_amount=1500), await event(session, "evt_down", day(10)))


def test_the_json_is_the_apis_and_the_table_shows_the_same_mrr(
    env: dict[str, str], database_url: str
) -> None:
    in_session(database_url, _seed)
    result = runner.invoke(billhook_app, ["analytics", *JANUARY, "--json"], env=env)
    assert result.exit_code == 0, result.output

    async def api(session: AsyncSession) -> dict[str, Any]:
        period = parse_period("custom", "2026-01-01", "2026-01-31", "week", datetime.now().astimezone())
        figures = await overview(session, period, currency=None, now=period.end)
        return MetricsOut.of(figures).model_dump(mode="json")

    expected = in_session(database_url, api)
    assert json.loads(result.output) == expected
    assert expected["mrr"] == 18_167 and expected["movements"]["contraction"] == -500
    table = runner.invoke(billhook_app, ["analytics", *JANUARY], env=env, terminal_width=160)
    assert table.exit_code == 0 and "$181.67" in table.output and "$2,180.04" in table.output  # MRR, ARR


def test_a_bad_period_is_one_line_and_exit_1(env: dict[str, str]) -> None:
    result = runner.invoke(billhook_app, ["analytics", "--period", "fortnight"], env=env)
    assert result.exit_code == 1 and result.output.strip().startswith("error: period must be one of")


def test_rebuild_fills_the_ledger_from_the_mirror_once(env: dict[str, str], database_url: str) -> None:
    docs = [
        _doc("sub_r1", "cus_r1", "canceled", start=day(-60), ended=day(5)),
        _doc("sub_r2", "cus_r1", "active", start=day(2)),
        _doc("sub_r3", "cus_r3", "trialing", start=day(1), trial_end=day(15)),
    ]

    async def mirror_without_ledger(session: AsyncSession) -> list[Any]:
        for doc in docs:
            await sync(session, mapping.subscription(doc))
        before = await ledger(session)
        await session.execute(delete(MrrMovement))
        return before

    before = in_session(database_url, mirror_without_ledger)
    first = runner.invoke(billhook_app, ["analytics", "rebuild"], env=env)
    assert first.exit_code == 0 and "3 subscriptions read, 3 with new ledger facts" in first.output
    again = runner.invoke(billhook_app, ["analytics", "rebuild"], env=env)
    assert "3 subscriptions read, 0 with new ledger facts" in again.output
    assert in_session(database_url, ledger) == before
    assert [kind for _, _, kind, _, _ in before] == ["new", "trial_started", "expansion", "contraction"]


def _doc(
    sub_id: str,
    customer: str,
    status: str,
    *,
    start: datetime,
    ended: datetime | None = None,
    trial_end: datetime | None = None,
) -> dict[str, Any]:
    price = {"id": "price_m", "object": "price", "product": "prod_m", "currency": "usd", "unit_amount": 1000,
             "recurring": {"interval": "month", "interval_count": 1}}  # fmt: skip
    return {
        "id": sub_id, "object": "subscription", "customer": customer, "status": status,
        "items": {"object": "list", "data": [{"id": f"si_{sub_id}", "price": price, "quantity": 1}]},
        "start_date": _stamp(start), "created": _stamp(start),
        "ended_at": _stamp(ended), "canceled_at": _stamp(ended),
        "trial_start": _stamp(start) if trial_end else None, "trial_end": _stamp(trial_end), "discounts": [],
    }  # fmt: skip


def _stamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def test_a_bad_currency_is_one_line_and_exit_1(env: dict[str, str]) -> None:
    result = runner.invoke(billhook_app, ["analytics", "--currency", "dollars"], env=env)
    assert result.exit_code == 1 and result.output.strip().startswith(
        "error: currency must be a three-letter"
    )
