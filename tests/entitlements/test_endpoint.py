"""GET /api/me/entitlements: role, entitlements and the reasons behind them."""

from __future__ import annotations

from datetime import timedelta

from billhook.accounts import repository
from tests.support import entitlement_factories as factories
from tests.support.app_harness import Harness


async def test_entitlements_need_a_session(h: Harness) -> None:
    response = await h.client.get("/api/me/entitlements")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_a_new_user_is_free_with_no_reasons(h: Harness) -> None:
    headers = await h.bearer()
    response = await h.client.get("/api/me/entitlements", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"role": "free", "entitlements": [], "reasons": []}


async def test_reasons_explain_each_grant_and_the_grace_deadline(h: Harness) -> None:
    headers = await h.bearer()
    async with h.runtime.session_factory() as session:
        ada = await repository.by_email(session, "ada@example.com")
        assert ada is not None
        since = h.clock.now() - timedelta(days=2)
        await factories.subscription(session, status="past_due", owner=ada, period_start=since)
        await factories.paid_order(session, ada, "starter")
        await session.commit()
    body = (await h.client.get("/api/me/entitlements", headers=headers)).json()
    assert body["role"] == "premium"
    assert body["entitlements"] == ["courses.advanced", "courses.basic", "support.email"]
    by_source = {r["source"]: r for r in body["reasons"]}
    assert by_source["subscription"]["status"] == "past_due"
    assert by_source["subscription"]["granted"] is True
    assert by_source["subscription"]["until"].startswith((since + timedelta(days=7)).date().isoformat())
    assert by_source["purchase"]["product_id"] == "starter"
    assert by_source["purchase"]["granted"] is True
