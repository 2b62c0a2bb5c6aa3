"""``billhook payments list|refund|retry``: clear output, --json, one-line errors with exit 1, and
a refund repeated by a nervous operator that happens once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from billhook.models import Subscription
from tests.support.cli import invoke, output_lines, point_at
from tests.support.payments import People, book, pay_booking, register, wait_payment
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
async def cli(shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Stack:
    await point_at(shared_stack, monkeypatch, tmp_path)
    return shared_stack


async def _paid(stack: Stack, people: People, currency: str) -> str:
    booking = await book(stack, people, currency=currency)
    started = await pay_booking(stack, people, booking["id"])
    await wait_payment(stack, started["payment_id"], "SUCCEEDED")
    return str(started["payment_id"])


async def test_list_shows_payments_with_their_currency_decimals(cli: Stack, people: People) -> None:
    payment_id = await _paid(cli, people, "eur")
    text = await invoke("payments", "list", "--status", "succeeded", "--since", "1h")
    assert text.exit_code == 0, text.output
    line = next(line for line in text.output.splitlines() if line.startswith(payment_id))
    assert "SUCCEEDED" in line and "€110.00" in line and " bkg_" in line
    as_json = await invoke("payments", "list", "--currency", "eur", "--json")
    rows = json.loads(output_lines(as_json, json_only=True)[-1])
    assert payment_id in {row["id"] for row in rows} and {row["currency"] for row in rows} == {"eur"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list", "--status", "paid"), "error: status: 'paid' is not one of PENDING, SUCCEEDED, FAILED, "
         "PARTIALLY_REFUNDED, REFUNDED"),
        (("list", "--since", "last week"), "error: --since 'last week': use e.g. 24h, 30m, 7d or an ISO "
         "time"),
        (("refund", "pay_nope"), "error: no payment pay_nope"),
        (("refund", "pay_nope", "--amount", "0"), "error: --amount: must be a positive number of minor "
         "units"),
        (("refund", "pay_nope", "--reason", "angry"), "error: --reason 'angry': use one of duplicate, "
         "fraudulent, requested_by_customer"),
        (("retry", "sub_nope"), "error: no subscription sub_nope"),
    ],
)  # fmt: skip
async def test_bad_input_is_one_line_and_exit_1(cli: Stack, args: tuple[str, ...], message: str) -> None:
    result = await invoke("payments", *args)
    # the last line: the served stack's own log lines may share the captured output
    assert (result.exit_code, result.output.strip().splitlines()[-1]) == (1, message)


async def test_a_refund_run_twice_refunds_once_and_too_much_is_refused(cli: Stack, people: People) -> None:
    payment_id = await _paid(cli, people, "usd")
    too_much = await invoke("payments", "refund", payment_id, "--amount", "12001")
    assert too_much.exit_code == 1 and "more than the $120.00 left to refund" in too_much.output
    first = await invoke("payments", "refund", payment_id, "--amount", "2000")
    second = await invoke("payments", "refund", payment_id, "--amount", "2000")
    assert first.exit_code == second.exit_code == 0, (first.output, second.output)
    assert "refund re_" in first.output and "$20.00" in first.output
    assert "already requested: nothing new refunded" in second.output
    payment = await wait_payment(cli, payment_id, "PARTIALLY_REFUNDED")
    assert payment.stripe_payment_intent_id is not None
    refunds = await cli.provider.client.v1.refunds.list_async(
        {"payment_intent": payment.stripe_payment_intent_id}
    )
    assert [r.amount for r in refunds.data] == [2000]
    rest = await invoke("payments", "refund", payment_id, "--json")
    assert json.loads(output_lines(rest, json_only=True)[-1])["amount"] == 10000
    await wait_payment(cli, payment_id, "REFUNDED")


async def test_retry_of_a_paid_subscription_charges_nothing(cli: Stack) -> None:
    who = await register(cli, "retry-subscriber@example.com")
    await cli.subscribe(who)

    async def subscription() -> Subscription | None:
        async with cli.db() as session:
            return await session.scalar(select(Subscription).where(Subscription.product_id == "premium_sub"))

    row = await cli.eventually(subscription)
    result = await invoke("payments", "retry", row.stripe_id)
    assert result.exit_code == 0, result.output
    assert "is already paid: nothing to retry" in result.output
