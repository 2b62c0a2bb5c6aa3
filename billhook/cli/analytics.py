"""``billhook analytics [--period 30d] [--currency usd]``: the admin overview's figures as a table,
and ``billhook analytics rebuild``: fill the MRR ledger from the mirror (safe to run again).

``--json`` prints exactly what ``GET /api/admin/metrics`` answers for the same query.
"""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.analytics import service
from billhook.analytics.api_schemas import MetricsOut, ReportingOut
from billhook.analytics.schemas import Overview
from billhook.cache import build_cache
from billhook.cli.db_session import run_in_session
from billhook.config import Settings
from billhook.kit.clock import utcnow
from billhook.kit.formatting import format_money
from billhook.providers.stripe import mapping
from billhook.subscriptions import mrr

T = TypeVar("T")
app = typer.Typer(
    help="Revenue figures (MRR, movements, churn, conversion, recovery) as a table.",
    invoke_without_command=True,
)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def figures_table(figures: Overview, reporting: ReportingOut | None) -> Table:
    def money(amount: int) -> str:
        return format_money(amount, figures.currency)

    period = figures.period
    title = f"{figures.currency.upper()}  {period.start:%Y-%m-%d %H:%M} - {period.end:%Y-%m-%d %H:%M} UTC"
    table = Table("figure", "value", title=title, title_justify="left", min_width=len(title) + 4)
    m, recovery = figures.movements, figures.recovery
    rows = [
        ("MRR", money(figures.mrr)),
        ("ARR", money(figures.arr)),
        ("Committed MRR", money(figures.committed_mrr)),
        ("Scheduled churn MRR", money(figures.scheduled_churn_mrr)),
        ("Active subscriptions", str(figures.active_subscriptions)),
        ("Trialing subscriptions", str(figures.trialing_subscriptions)),
        ("Trial MRR", money(figures.trial_mrr)),
        ("Paying customers", str(figures.paying_customers)),
        ("ARPU", money(figures.arpu)),
        ("New MRR", money(m.new)),
        ("Expansion MRR", money(m.expansion)),
        ("Contraction MRR", money(m.contraction)),
        ("Churned MRR", money(m.churn)),
        ("Reactivation MRR", money(m.reactivation)),
        ("Net new MRR", money(m.net_new)),
        ("Customer churn rate", _rate(figures.customer_churn_rate)),
        ("Gross revenue churn", _rate(figures.gross_revenue_churn_rate)),
        ("Net revenue churn", _rate(figures.net_revenue_churn_rate)),
        ("Net revenue retention", _rate(figures.net_revenue_retention)),
        ("Failed invoices", f"{recovery.failed_invoices} ({money(recovery.failed_amount)})"),
        ("Recovered invoices", f"{recovery.recovered_invoices} ({money(recovery.recovered_amount)})"),
        ("Recovery rate (amount)", f"{_rate(recovery.rate)} ({_rate(recovery.amount_rate)})"),
        ("Median time to recover", _duration(recovery.median_seconds_to_recover)),
        *((f"Checkout {c.plan}", f"{c.completed}/{c.opened} ({_rate(c.rate)})") for c in figures.conversion),
        *(
            (f"Revenue {code.upper()}", format_money(amount, code))
            for code, amount in figures.revenue_by_currency.items()
        ),
    ]
    if reporting is not None:
        rows.append((f"MRR in {reporting.currency.upper()}", format_money(reporting.mrr, reporting.currency)))
    for row in rows:
        table.add_row(*row)
    return table


def series_table(figures: Overview) -> Table:
    table = Table("from", "MRR", "active", "trialing", "net new MRR", "failed", "recovered", title="Series")
    for point in figures.series:
        table.add_row(
            f"{point.start:%Y-%m-%d}",
            format_money(point.mrr, figures.currency),
            str(point.active_subscriptions),
            str(point.trialing_subscriptions),
            format_money(point.movements.net_new, figures.currency),
            str(point.failed_payments),
            str(point.recovered_payments),
        )
    return table


@app.callback()
def analytics(
    ctx: typer.Context,
    *,
    period: Annotated[str | None, typer.Option(help="30d (default), month, quarter, year or custom.")] = None,
    currency: Annotated[str | None, typer.Option(help="Default: the currency with the most MRR.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day of a custom period.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day of a custom period (included).")] = None,
    interval: Annotated[str | None, typer.Option(help="day, week or month.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The JSON of GET /api/admin/metrics.")] = False,
) -> None:
    """The overview's figures for a period (definitions: docs/analytics.md)."""
    if ctx.invoked_subcommand is not None:
        return

    async def action(session: AsyncSession, settings: Settings) -> tuple[Overview, ReportingOut | None]:
        now = utcnow()
        chosen = service.parse_period(
            None if start and period == "30d" else period, start, end, interval, now
        )
        # Shared with the server through Redis; in memory, a one-shot process would only fill it.
        cache = build_cache(settings) if settings.redis_url else None
        rates = settings.billhook_reporting_rates
        try:
            figures = await service.cached_overview(
                session, cache, chosen, currency=currency, now=now,
                rates=rates, reporting_currency=settings.billhook_reporting_currency,
            )  # fmt: skip
        finally:
            if cache is not None:
                await cache.aclose()
        return figures, ReportingOut.of(figures, rates)

    figures, reporting = run_in_session(action)
    if as_json:
        typer.echo(json.dumps(MetricsOut.of(figures, reporting).model_dump(mode="json"), indent=2))
        return
    console = Console()
    console.print(figures_table(figures, reporting))
    console.print(series_table(figures))


@app.command()
def rebuild() -> None:
    """Fill the MRR ledger from the mirrored subscriptions (for data older than the ledger)."""

    async def action(session: AsyncSession, _settings: Settings) -> mrr.Rebuilt:
        return await mrr.rebuild(session, mapping.subscription)

    done = run_in_session(action)
    typer.echo(f"{done.subscriptions} subscriptions read, {done.facts_written} with new ledger facts")
