"""The pricing page's buy form for a domain product asks for the name (issue #18): a good one goes
to the hosted page with the name on the session; a bad one renders the pricing page again with
the checkout's own reason under the field (HTML, never a JSON 422 or a 500), the name kept."""

from __future__ import annotations

import re
from html import unescape

import httpx
from sqlalchemy import select

from billhook.models import Order
from tests.checkout.test_success_page import CSRF, signed_in_browser
from tests.support.stack import Stack

DOMAIN_PRODUCT = "domain_registration"
DOMAIN_FIELD = re.compile(r'<input type="text" id="domain-([a-z_]+)" name="domain"')


async def buy(browser: httpx.AsyncClient, stack: Stack, csrf: str, domain: str) -> httpx.Response:
    return await browser.post(
        "/checkout/start",
        data={"product_id": DOMAIN_PRODUCT, "currency": "usd", "domain": domain, "csrf_token": csrf},
        headers={"Origin": stack.root},  # what a browser sends with a form post
    )


async def test_only_the_domain_product_asks_for_a_name_and_a_good_one_checks_out(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    browser, csrf = await signed_in_browser(stack, ada)
    try:
        pricing = await browser.get("/pricing")
        assert DOMAIN_FIELD.findall(pricing.text) == [DOMAIN_PRODUCT]
        started = await buy(browser, stack, csrf, "  Ada-Lovelace.ORG ")
    finally:
        await browser.aclose()
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith(f"{stack.api_base}/checkout/")
    session_id = started.headers["location"].rsplit("/", 1)[-1]
    session = await stack.provider.get_checkout_session(session_id)
    assert session.metadata["domain"] == "ada-lovelace.org"
    async with stack.db() as db:
        order = await db.scalar(select(Order).where(Order.checkout_session_stripe_id == session_id))
    assert order is not None and order.metadata_["domain"] == "ada-lovelace.org"


async def test_a_bad_name_renders_the_pricing_page_again_with_the_reason(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    browser, csrf = await signed_in_browser(stack, ada)
    try:
        bad = await buy(browser, stack, csrf, "not a domain.com")
        empty = await buy(browser, stack, csrf, "")
        localhost = await buy(browser, stack, csrf, "localhost")
        foreign = await browser.post(
            "/checkout/start",
            data={"product_id": DOMAIN_PRODUCT, "domain": "example.com", "csrf_token": csrf},
            headers={"Origin": "https://evil.example"},
        )
    finally:
        await browser.aclose()
    for response, reason in (
        (bad, "each part has 1-63 letters"),
        (empty, "give its name, such as example.com"),
        (localhost, "needs a name and a top-level domain"),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("text/html")
        page = unescape(response.text)
        assert "<h1>Plans and products</h1>" in page
        assert f'id="domain-error-{DOMAIN_PRODUCT}"' in page and reason in page
        assert 'aria-invalid="true"' in page and CSRF.search(page) is not None
    assert 'value="not a domain.com"' in unescape(bad.text)
    assert foreign.status_code == 403  # the same origin check as every other form
    async with stack.db() as db:
        orders = list(await db.scalars(select(Order)))
    assert orders == []
