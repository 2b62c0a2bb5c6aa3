"""``billhook payments retry`` on a real failed renewal: refused while the card declines, paid once
a working card is saved, and a nervous second retry changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import invoke, point_at
from tests.support.stack import Stack
from tests.support.subscriptions import save_new_card, status_becomes


async def test_payments_retry_pays_a_failed_renewal_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "enterprise_sub", card="4000 0000 0000 0341")
    await stack.role_becomes(ada, "enterprise")
    await stack.advance(days=31)  # the renewal charge fails off-session
    await status_becomes(stack, ada, "past_due")
    sub_id = (await stack.http.get("/api/subscription", headers=ada.headers)).json()["subscription_id"]
    await point_at(stack, monkeypatch, tmp_path)

    declined = await invoke("payments", "retry", sub_id)
    assert declined.exit_code == 1
    assert "declined" in declined.output.lower()

    await save_new_card(stack, sub_id)
    paid = await invoke("payments", "retry", sub_id)
    assert paid.exit_code == 0, paid.output
    assert ": paid" in paid.output
    again = await invoke("payments", "retry", sub_id)
    assert again.exit_code == 0 and "already paid: nothing to retry" in again.output
    await status_becomes(stack, ada, "active")
