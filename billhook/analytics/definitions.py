"""The arithmetic of every figure, as small pure functions (defined in docs/analytics.md).

Rates are fractions (0.1 is 10 %), ``None`` when there is nothing to divide by: a rate over no
customers or no revenue is unknown, not zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from billhook.analytics.schemas import Movements
from billhook.kit.money import decimals


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def divide_minor(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to a whole minor unit, halves away from zero."""
    if denominator == 0:
        return 0
    return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), ROUND_HALF_UP))


def arr(mrr: int) -> int:
    """Annual run rate: twelve times MRR."""
    return mrr * 12


def arpu(mrr: int, paying_customers: int) -> int:
    """Average revenue per paying customer per month: MRR ÷ customers with paying MRR."""
    return divide_minor(mrr, paying_customers)


def gross_revenue_churn_rate(movements: Movements, mrr_at_start: int) -> float | None:
    """MRR lost to churn and contraction ÷ MRR at the start of the period.

    $100 at the start, -$10 churn, -$10 contraction (+$10 expansion ignored) → 20 %.
    """
    return _rate(-(movements.churn + movements.contraction), mrr_at_start)


def net_revenue_churn_rate(movements: Movements, mrr_at_start: int) -> float | None:
    """(churn + contraction - expansion) ÷ MRR at the start; negative when expansion outgrows losses.

    Reactivation is left out: it comes from customers who were not paying at the start, and
    counting it would let new sales hide the loss of existing customers (Baremetrics, ChartMogul).
    $100 at the start, -$10 churn, -$10 contraction, +$10 expansion → 10 %.
    """
    return _rate(-(movements.churn + movements.contraction) - movements.expansion, mrr_at_start)


def net_revenue_retention(movements: Movements, mrr_at_start: int) -> float | None:
    """(MRR at start + expansion - contraction - churn) ÷ MRR at start: what the starting
    customers pay at the end of the period per unit they paid at its start (1 - net revenue churn)."""
    kept = mrr_at_start + movements.expansion + movements.contraction + movements.churn
    return _rate(kept, mrr_at_start)


def customer_churn_rate(churned: int, churned_joined_in_period: int, customers_at_start: int) -> float | None:
    """Customers who stopped paying ÷ paying customers at the start of the period.

    A customer who joined during the period and left in it was never in the starting count, so
    they are left out of the numerator too: 11 cancellations among 100 customers, one of whom
    joined that month, is 10 % (10 ÷ 100).
    """
    return _rate(churned - churned_joined_in_period, customers_at_start)


def movements_from(totals: Mapping[str, int]) -> Movements:
    """Movements from sums of MRR change by ledger kind (other kinds have no MRR change)."""
    return Movements(
        new=totals.get("new", 0),
        expansion=totals.get("expansion", 0),
        contraction=totals.get("contraction", 0),
        churn=totals.get("churn", 0),
        reactivation=totals.get("reactivation", 0),
    )


def _value_at_rank(counts: Mapping[float, int], rank: int) -> float:
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise ValueError("rank beyond the counts")


def median_of_counts(counts: Mapping[float, int]) -> float | None:
    """The median of values given as {value: how many}; the mean of the two middle ones if even."""
    total = sum(counts.values())
    if total == 0:
        return None
    if total % 2:
        return _value_at_rank(counts, total // 2 + 1)
    return (_value_at_rank(counts, total // 2) + _value_at_rank(counts, total // 2 + 1)) / 2


def percentile_of_counts(counts: Mapping[float, int], fraction: float) -> float | None:
    """The nearest-rank percentile of values given as {value: how many}."""
    total = sum(counts.values())
    if total == 0:
        return None
    return _value_at_rank(counts, max(1, math.ceil(round(fraction * total, 9))))


def convert(amount: int, source: str, target: str, rate: Decimal) -> Decimal:
    """Minor units of ``source`` as (unrounded) minor units of ``target`` at ``rate`` (what one
    unit of ``source`` is worth in ``target``), respecting each currency's decimals (JPY has none)."""
    return Decimal(amount).scaleb(-decimals(source)) * rate * Decimal(1).scaleb(decimals(target))


def reporting_total(amounts: Mapping[str, int], target: str, rates: Mapping[str, Decimal]) -> int | None:
    """The sum of per-currency amounts in ``target``, or ``None`` if a currency has no rate: a
    total that silently left one out would be wrong, not partial."""
    total = Decimal(0)
    for code, amount in amounts.items():
        if amount == 0:
            continue
        rate = Decimal(1) if code == target else rates.get(code)
        if rate is None:
            return None
        total += convert(amount, code, target, rate)
    return int(total.quantize(Decimal(1), ROUND_HALF_UP))
