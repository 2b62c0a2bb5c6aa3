"""The emails a customer expects, each once, each link to a page that exists (issue #18, 6):
a welcome on sign-up, a receipt for every payment, a reminder before a trial ends; each type
can be switched off (BILLHOOK_EMAILS_DISABLED) for operators who let Stripe send its own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from billhook.models import EmailMessage
from tests.support.stack import Stack, running_stack

HREF = re.compile(r'href="([^"]+)"')


async def sent(stack: Stack, template: str, timeout: float = 15.0) -> list[EmailMessage]:
    async def check() -> list[EmailMessage]:
        async with stack.db() as session:
            rows = await session.scalars(
                select(EmailMessage).where(EmailMessage.template == template, EmailMessage.status == "sent")
            )
            return list(rows)

    return await stack.eventually(check, timeout)


async def every_link_opens(stack: Stack, message: EmailMessage) -> None:
    """Each http link of the email answers a page (a signed-out visitor is sent to sign in)."""
    links = [link for link in HREF.findall(message.html_body or "") if link.startswith("http")]
    assert links, message.html_body
    async with httpx.AsyncClient(timeout=20, follow_redirects=True) as browser:
        for link in links:
            page = await browser.get(link)
            assert page.status_code == 200, (link, page.status_code)
            assert "text/html" in page.headers["content-type"], link


async def test_a_receipt_for_a_purchase_and_for_each_subscription_payment(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    welcome = await sent(stack, "signup_welcome")
    assert [m.to_email for m in welcome] == ["ada@example.com"]
    await every_link_opens(stack, welcome[0])

    bought = (await stack.checkout(ada, product_id="starter")).json()
    assert (await stack.pay(bought["url"])).status_code == 303
    [receipt] = await sent(stack, "payment_receipt")
    assert receipt.to_email == "ada@example.com" and "$49.00" in (receipt.text_body or "")
    assert "Starter" in (receipt.text_body or "")

    await stack.subscribe(ada, "enterprise_sub")
    await stack.advance(days=31)  # a renewal
    await stack.settled(timeout=30)
    receipts = await sent(stack, "payment_receipt")
    assert len(receipts) == 3  # the purchase, the first month, the renewal: one each
    monthly = [m for m in receipts if m.context["description"] == "Enterprise"]
    assert len(monthly) == 2
    for message in monthly:
        number = message.context["receipt_number"]
        assert number and f"Invoice {number}" in (message.text_body or "")
        assert message.context["invoice_url"] in (message.html_body or "")
        await every_link_opens(stack, message)


async def test_a_reminder_before_the_trial_ends(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "premium_sub")
    await stack.advance(days=5)  # Stripe's notice comes three days before the end of a 7-day trial
    [reminder] = await sent(stack, "trial_ending")
    assert reminder.to_email == "ada@example.com" and "$29.00" in (reminder.text_body or "")
    await every_link_opens(stack, reminder)
    await stack.settled()
    assert len(await sent(stack, "trial_ending")) == 1


@pytest.fixture
async def quiet_stack(database_url: str, tmp_path: Path, sandbox_template: Path) -> AsyncIterator[Stack]:
    overrides = {"billhook_emails_disabled": "receipt,trial_ending"}
    async with running_stack(database_url, tmp_path, sandbox_template, **overrides) as running:
        yield running


async def test_switched_off_emails_are_not_sent(quiet_stack: Stack) -> None:
    stack = quiet_stack
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "premium_sub")
    await stack.advance(days=8)  # the trial ends: a reminder and a first charge
    await stack.settled(timeout=30)
    async with stack.db() as session:
        templates = set(await session.scalars(select(EmailMessage.template)))
    assert "signup_welcome" in templates
    assert not templates & {"payment_receipt", "trial_ending"}
