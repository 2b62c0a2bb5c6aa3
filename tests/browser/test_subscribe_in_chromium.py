"""Sign up, subscribe on /pricing, pay with 4242 on the sandbox page, see the plan on /account.

Real Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright; no browser is downloaded).
A screenshot of every page is kept under ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import ARTIFACTS, chromium, needs_chromium
from tests.support.stack import Stack


async def shot(page: Page, name: str, backend: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"subscribe-{backend}-{name}.png"), full_page=True)


async def signed_up(
    browser: Browser, stack: Stack, email: str, *, shot_as: tuple[str, str] | None = None
) -> Page:
    """A new page of a user who just signed up; ``shot_as`` (name, backend) keeps the filled form."""
    page = await browser.new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{stack.root}/signup")
    await page.fill("#email", email)
    await page.fill("#password", "correct horse battery")
    if shot_as is not None:
        await shot(page, *shot_as)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{stack.root}/account**")
    return page


@pytest.mark.browser
@needs_chromium
async def test_sign_up_subscribe_and_see_the_plan(stack: Stack, backend: str) -> None:
    async with chromium() as browser:
        page = await signed_up(browser, stack, "ada@example.com", shot_as=("1-signup", backend))

        await page.goto(f"{stack.root}/pricing")
        await shot(page, "2-pricing", backend)
        await page.click("#product-premium_sub button[type=submit]")
        await page.wait_for_url(f"{stack.api_base}/checkout/**")
        await page.fill("#card_number", "4242 4242 4242 4242")
        await shot(page, "3-sandbox-checkout", backend)
        await page.click("button[type=submit]")

        await page.wait_for_url(f"{stack.root}/payment/success**")
        await expect(page.locator("#status-active")).to_be_visible()
        await shot(page, "4-success", backend)

        await page.goto(f"{stack.root}/account")
        await expect(page.locator("#subscription-plan")).to_have_text("Premium")
        await expect(page.locator("#role")).to_have_text("premium")
        await expect(page.locator("#subscription-status")).to_have_text("trialing")
        await shot(page, "5-account", backend)


@pytest.mark.browser
@needs_chromium
async def test_buy_a_domain_from_the_pricing_page(stack: Stack, backend: str) -> None:
    """The domain product's form takes the name; a bad one comes back with the reason beside it."""
    async with chromium() as browser:
        page = await signed_up(browser, stack, "grace@example.com")

        await page.goto(f"{stack.root}/pricing")
        card = page.locator("#product-domain_registration")
        await card.locator("input[name=domain]").fill("grace hopper.com")
        await card.locator("button[type=submit]").click()
        await expect(page.locator("#domain-error-domain_registration")).to_contain_text("each part has")
        await expect(page.locator("#domain-domain_registration")).to_have_value("grace hopper.com")
        await shot(page, "6-domain-refused", backend)

        await page.fill("#domain-domain_registration", "grace-hopper.com")
        await page.click("#product-domain_registration button[type=submit]")
        await page.wait_for_url(f"{stack.api_base}/checkout/**")
        await expect(page.locator("#card_number")).to_be_visible()
        await shot(page, "7-domain-checkout", backend)
