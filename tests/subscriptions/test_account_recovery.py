"""The past-due account page offers "retry payment" and "update card", both working, with the
outcome shown (issue #18, problem 7)."""

from __future__ import annotations

import re

import httpx

from tests.support.stack import PASSWORD, Stack
from tests.support.subscriptions import status_becomes

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
CARD_FORM = re.compile(r'action="([^"]+/card)"')


async def test_a_past_due_customer_retries_updates_the_card_and_sees_the_outcome(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "enterprise_sub", card="4000 0000 0000 0341")
    await status_becomes(stack, ada, "active")
    await stack.advance(days=31)  # the renewal fails
    await status_becomes(stack, ada, "past_due")
    await stack.settled()

    async with stack.browser() as browser:
        login = await browser.post("/api/auth/login", json={"email": ada.email, "password": PASSWORD})
        browser.cookies.set("billhook_session", login.json()["access_token"])
        page = (await browser.get("/account")).text
        assert 'action="/account/subscription/retry"' in page and "Update card" in page
        match = CSRF.search(page)
        assert match is not None
        csrf = {"csrf_token": match.group(1)}

        declined = await browser.post("/account/subscription/retry", data=csrf)
        assert declined.status_code == 402 and "declined" in declined.text.lower()

        portal = await browser.post("/account/subscription/portal", data=csrf)
        assert portal.status_code == 303
        await update_card_in_portal(portal.headers["location"], "4242 4242 4242 4242")

        retried = await browser.post("/account/subscription/retry", data=csrf)
        assert (retried.status_code, retried.headers["location"]) == (303, "/account?done=payment_retried")
        after = (await browser.get(retried.headers["location"])).text
    assert "Payment received" in after and 'id="subscription-status">active<' in after
    assert 'action="/account/subscription/retry"' not in after


async def update_card_in_portal(url: str, card: str) -> None:
    """What the customer does on the hosted billing portal: type a new card and submit."""
    async with httpx.AsyncClient(timeout=20) as browser:
        page = (await browser.get(url)).text
        token, action = FORM_TOKEN.search(page), CARD_FORM.search(page)
        assert token is not None and action is not None, page
        form = {"form_token": token.group(1), "card_number": card, "exp": "12/34", "cvc": "123"}
        done = await browser.post(action.group(1), data=form)
        assert done.status_code in (200, 303), done.text
