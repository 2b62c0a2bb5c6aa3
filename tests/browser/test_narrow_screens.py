"""No page scrolls sideways on a 375 px phone: Billhook's pages, the sandbox's hosted checkout and
billing portal (which share their look), the local mailbox and an email in it.

Real Chromium (Debian's ``/usr/bin/chromium`` via Playwright). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.browser import ARTIFACTS, chromium, needs_chromium
from tests.support.stack import Stack

PHONE = {"width": 375, "height": 740}


async def fits(page: Page, url: str, name: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status < 400, (url, response and response.status)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"narrow-{name}.png"), full_page=True)
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} ({url}) scrolls sideways by {overflow}px"


@pytest.mark.browser
@needs_chromium
async def test_every_page_fits_a_375_px_screen(stack: Stack, backend: str) -> None:
    ada = await stack.register("ada.lovelace.with.a.rather.long.address@example.com")
    checkout = await stack.checkout(ada, product_id="premium_sub")
    assert checkout.status_code == 201, checkout.text
    checkout_url = checkout.json()["url"]
    async with chromium() as browser:
        page = await browser.new_page(viewport=PHONE)
        page.set_default_timeout(15_000)
        for path in ("/pricing", "/signup", "/login"):
            await fits(page, f"{stack.root}{path}", f"{backend}{path.replace('/', '-')}")
        await fits(page, checkout_url, f"{backend}-sandbox-checkout")
        paid = await stack.pay(checkout_url)
        assert paid.status_code == 303, paid.text
        portal = await stack.http.post("/api/payments/portal", json={}, headers=ada.headers)
        assert portal.status_code == 200, portal.text
        await fits(page, portal.json()["url"], f"{backend}-sandbox-portal")
        reset = await stack.http.post("/api/auth/password-reset", json={"email": ada.email})
        assert reset.status_code < 300, reset.text
        email = await stack.eventually(lambda: _first_email(stack))  # the password-reset email
        await fits(page, f"{stack.root}/dev/mailbox", f"{backend}-mailbox")
        await fits(page, f"{stack.root}{email}", f"{backend}-email")


async def _first_email(stack: Stack) -> str | None:
    """The path of a message in the local mailbox, once the outbox has sent one."""
    listing = await stack.http.get("/dev/mailbox")
    assert listing.status_code == 200, listing.text
    paths = [part.split('"', 1)[0] for part in listing.text.split('href="')[1:]]
    messages = [path for path in paths if path.startswith("/dev/mailbox/")]
    return messages[0] if messages else None
