"""``/api/admin/metrics``: admins only (404 for others), the same figures as JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from billhook.analytics.endpoints import router as analytics_router
from billhook.analytics.service import OVERVIEW_CACHE_TTL_SECONDS
from billhook.models import User
from tests.support.analytics_factories import changed, day, event, subscription, sync
from tests.support.app_harness import Harness, harness

JANUARY = {"period": "custom", "from": "2026-01-01", "to": "2026-01-31", "interval": "week"}


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url, billhook_reporting_rates="eur=1.10") as h:
        h.app.include_router(analytics_router)
        async with h.runtime.session_factory() as session:
            basic = subscription("sub_1", "cus_1", amount=2000, start=day(-40))
            await sync(session, basic)
            await sync(session, subscription("sub_2", "cus_2", amount=1000, start=day(3)))
            await sync(session, changed(basic, unit_amount=3000), await event(session, "evt_up", day(10)))
            await sync(session, subscription("sub_3", "cus_3", amount=5000, currency="eur", start=day(-40)))
            await session.commit()
        yield h


async def _admin(h: Harness) -> dict[str, str]:
    headers = await h.bearer("root@example.com")
    async with h.runtime.session_factory() as session:
        await session.execute(update(User).where(User.email == "root@example.com").values(role="admin"))
        await session.commit()
    return headers


async def test_anonymous_callers_must_sign_in(app: Harness) -> None:
    response = await app.client.get("/api/admin/metrics")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


async def test_a_customer_gets_the_same_404_as_a_route_that_does_not_exist(app: Harness) -> None:
    headers = await app.bearer("ada@example.com")
    for path in ("/api/admin/metrics", "/api/admin/metrics.csv", "/api/admin/metrics/operations"):
        response = await app.client.get(path, headers=headers)
        missing = await app.client.get("/api/admin/no-such-thing", headers=headers)
        assert (response.status_code, response.json()) == (404, missing.json())


async def test_an_admin_gets_the_figures_in_minor_units(app: Harness) -> None:
    response = await app.client.get(
        "/api/admin/metrics", params=JANUARY | {"currency": "usd"}, headers=await _admin(app)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["currency"], body["mrr"], body["arr"], body["active_subscriptions"]) == (
        "usd",
        4000,
        48_000,
        2,
    )
    assert body["movements"] == {
        "new": 1000, "expansion": 1000, "contraction": 0, "churn": 0, "reactivation": 0, "net_new": 2000,
    }  # fmt: skip
    assert (
        body["currencies"] == ["eur", "usd"]
        and body["trialing_subscriptions"] == 0
        and body["trial_mrr"] == 0
    )
    assert [point["mrr"] for point in body["series"]] == [3000, 4000, 4000, 4000, 4000]  # at each week's end
    assert body["reporting"] == {"currency": "usd", "mrr": 9500, "rates": {"eur": "1.10"}}  # 40 + 50 x 1.10


async def test_the_csv_has_the_json_series(app: Harness) -> None:
    headers = await _admin(app)
    body = (await app.client.get("/api/admin/metrics", params=JANUARY, headers=headers)).json()
    response = await app.client.get("/api/admin/metrics.csv", params=JANUARY, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert body["currency"] == "eur"  # the currency with the most MRR by default
    assert [(row["start"][:10], int(row["mrr"]), int(row["net_new"])) for row in rows] == [
        (point["start"][:10], point["mrr"], point["movements"]["net_new"]) for point in body["series"]
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"period": "fortnight"},
        {"period": "custom", "from": "2026-13-01"},
        {"period": "30d", "interval": "hour"},
        {"currency": "dollars"},
        {"period": "custom", "from": "2000-01-01", "to": "2026-01-01", "interval": "day"},
    ],
)
async def test_bad_queries_are_422_with_a_message(app: Harness, params: dict[str, str]) -> None:
    response = await app.client.get("/api/admin/metrics", params=params, headers=await _admin(app))
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["message"]


async def test_operations_answer_for_an_admin(app: Harness) -> None:
    response = await app.client.get(
        "/api/admin/metrics/operations", params=JANUARY, headers=await _admin(app)
    )
    assert response.status_code == 200
    assert response.json()["jobs_finished"] == 0 and response.json()["job_success_rate"] is None


async def test_the_same_query_answers_from_the_cache_for_up_to_30_seconds(app: Harness) -> None:
    headers = await _admin(app)
    first = (await app.client.get("/api/admin/metrics", params=JANUARY, headers=headers)).json()
    async with app.runtime.session_factory() as session:
        await sync(session, subscription("sub_late", "cus_late", amount=9900, currency="eur", start=day(20)))
        await session.commit()
    cached = (await app.client.get("/api/admin/metrics", params=JANUARY, headers=headers)).json()
    fresh = (
        await app.client.get("/api/admin/metrics", params=JANUARY | {"currency": "eur"}, headers=headers)
    ).json()
    assert cached == first and fresh["mrr"] == first["mrr"] + 9900
    assert OVERVIEW_CACHE_TTL_SECONDS <= 60  # figures fresh within a minute of a change


async def test_the_csv_answers_from_the_same_cache_as_the_json(app: Harness) -> None:
    headers, query = await _admin(app), JANUARY | {"currency": "usd"}
    first = (await app.client.get("/api/admin/metrics", params=query, headers=headers)).json()
    async with app.runtime.session_factory() as session:
        await sync(session, subscription("sub_late", "cus_late", amount=700, start=day(20)))
        await session.commit()
    exported = await app.client.get("/api/admin/metrics.csv", params=query, headers=headers)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(row["mrr"]) for row in rows] == [point["mrr"] for point in first["series"]]
    assert first["series"][-1]["mrr"] == 4000  # without sub_late's 700
