"""``billhook payments list|retry|refund``: the seed's ``task payments:*`` from the command line.

Each command runs in one committed transaction against the configured provider (Stripe, or the
sandbox of a running ``billhook serve``), prints one line per fact or ``--json``, and exits 1 with
a one-line message on bad input (unknown id, bad amount, nothing to refund). A refund or retry
repeated by a nervous operator happens once (see ``billhook.payments.refunds``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.cache import BillhookCache
from billhook.cli.events import parse_since
from billhook.cli.provider_session import run_in_transaction
from billhook.cli.tables import print_table
from billhook.errors import InvalidInput
from billhook.kit.clock import SystemClock
from billhook.kit.formatting import format_datetime, format_money
from billhook.payments import queries
from billhook.payments.actions import RetriedInvoice, retry_subscription_payment
from billhook.payments.refunds import RefundRequest, request_refund
from billhook.payments.stats import invalidate_payment_stats
from billhook.providers.actions import ProviderActions, RefundReason
from billhook.providers.base import PaymentProvider

T = TypeVar("T")
app = typer.Typer(help="List, retry and refund payments.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@dataclass
class Ops:
    session: AsyncSession
    provider: PaymentProvider
    actions: ProviderActions
    cache: BillhookCache


def run(action: Callable[[Ops], Awaitable[T]]) -> T:
    """Run ``action`` in one committed transaction; a Billhook error exits 1 with one line."""
    return run_in_transaction(lambda ctx: action(Ops(ctx.session, ctx.provider, ctx.actions, ctx.cache)))


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parse_since(value)
    except InvalidInput as exc:
        fail(exc.message)
        raise
    return datetime.now(UTC) - moment if isinstance(moment, timedelta) else moment


def payment_row(view: dict[str, Any]) -> tuple[str, ...]:
    refunded = view["amount_refunded_display"] if view["amount_refunded"] else ""
    return (
        view["id"],
        view["status"] + (" DISPUTED" if view["disputed"] else ""),
        view["amount_display"],
        refunded,
        format_datetime(view["created_at"]),
        view["user_id"] or "-",
        view["booking_id"] or "",
    )


@app.command("list")
def list_command(
    *,
    status: Annotated[
        str | None, typer.Option(help="PENDING, SUCCEEDED, FAILED, PARTIALLY_REFUNDED, REFUNDED.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Created since: 24h, 30m, 7d or an ISO time.")] = None,
    currency: Annotated[str | None, typer.Option(help="Three-letter currency code.")] = None,
    disputed: Annotated[bool, typer.Option("--disputed", help="Only disputed payments.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=queries.MAX_LIMIT, help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Payments, newest first."""
    start = _since(since)

    async def action(ops: Ops) -> list[dict[str, Any]]:
        spec = queries.normalized_filter(
            status=status, user_id=None, currency=currency, since=start, until=None, disputed=disputed or None
        )
        page = await queries.list_payments(ops.session, spec, limit=limit)
        return [queries.payment_view(p) for p in page.items]

    views = run(action)
    if as_json:
        typer.echo(json.dumps(views))
        return
    print_table(
        ("payment", "status", "amount", "refunded", "created", "user", "booking"),
        (payment_row(view) for view in views),
        empty="no payments",
    )


@app.command("refund")
def refund_command(
    payment_id: Annotated[str, typer.Argument(help="The payment's id (pay_…).")],
    amount: Annotated[
        int | None, typer.Option(help="In the currency's minor unit (cents; yen). Default: all that is left.")
    ] = None,
    reason: Annotated[
        str, typer.Option(help="duplicate, fraudulent or requested_by_customer.")
    ] = "requested_by_customer",
    request_key: Annotated[
        str | None,
        typer.Option(
            help="Same key, same refund. Default: one refund per payment and amount per 10 minutes."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Refund a payment (fully, or --amount of it) through the provider."""
    if reason not in REASONS:
        fail(f"--reason {reason!r}: use one of {', '.join(REASONS)}")
    if amount is not None and amount <= 0:
        fail("--amount: must be a positive number of minor units")
    chosen: RefundReason = reason  # type: ignore[assignment]

    async def action(ops: Ops) -> dict[str, Any]:
        requested = await request_refund(
            ops.session,
            ops.actions,
            RefundRequest(payment_id, amount, chosen, request_key, "cli"),
            now=SystemClock().now(),
        )
        await invalidate_payment_stats(ops.cache)
        refund = requested.refund
        return {
            "payment_id": requested.payment.id,
            "refund_id": refund.id,
            "amount": refund.amount,
            "currency": refund.currency,
            "amount_display": format_money(refund.amount, refund.currency),
            "status": refund.status,
            "replayed": requested.replayed,
        }

    result = run(action)
    if as_json:
        typer.echo(json.dumps(result))
        return
    again = " (already requested: nothing new refunded)" if result["replayed"] else ""
    what = f"refund {result['refund_id']} of {result['amount_display']} for {payment_id}"
    typer.echo(f"{what}: {result['status']}{again}")
    typer.echo("the payment's status follows the provider's events")


@app.command("retry")
def retry_command(
    subscription_id: Annotated[str, typer.Argument(help="The subscription (sub_… at the provider).")],
    as_json: JsonOption = False,
) -> None:
    """Pay the subscription's open invoice now with the saved card."""

    async def action(ops: Ops) -> RetriedInvoice:
        return await retry_subscription_payment(ops.session, ops.provider, ops.actions, subscription_id)

    result = run(action)
    if as_json:
        typer.echo(json.dumps(asdict(result)))
        return
    shown = format_money(result.amount_due, result.currency)
    if result.already_paid:
        typer.echo(f"invoice {result.invoice_id} of {shown} is already paid: nothing to retry")
        return
    typer.echo(f"invoice {result.invoice_id} of {shown}: {result.status}")
