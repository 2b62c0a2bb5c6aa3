"""A subscription's monthly amount: interval_count, discounts, quantity (docs/analytics.md)."""

from __future__ import annotations

from fractions import Fraction

from billhook.providers.stripe import mapping
from billhook.subscriptions.mrr import monthly_amount, per_month, round_minor


def _subscription(discounts: list[object], *, interval: str = "month", count: int = 1) -> dict[str, object]:
    price = {
        "id": "price_1",
        "object": "price",
        "product": "prod_1",
        "currency": "usd",
        "unit_amount": 2000,
        "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"},
    }
    item = {"id": "si_1", "object": "subscription_item", "price": price, "quantity": 3, "discounts": []}
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": "active",
        "items": {"object": "list", "data": [item]},
        "discounts": discounts,
        "start_date": 1767225600,
    }


def test_a_2000_dollar_yearly_plan_is_16667_cents_of_mrr() -> None:
    assert round_minor(per_month(200_000, "year")) == 16667


def test_interval_count_divides_the_amount() -> None:
    assert per_month(9000, "month", 3) == 3000
    assert per_month(1200, "week") == Fraction(1200 * 52, 12)


def test_the_stripe_mapping_reads_interval_count_and_expanded_coupons() -> None:
    coupon = {"id": "Z4OV52SU", "object": "coupon", "percent_off": 25.5, "amount_off": None, "currency": None}
    doc = _subscription(
        [{"id": "di_1", "object": "discount", "source": {"type": "coupon", "coupon": coupon}}], count=2
    )
    subscription = mapping.subscription(doc)
    assert subscription.items[0].interval_count == 2
    assert subscription.discounts[0].percent_off == 25.5
    # 3 x 20.00 every 2 months = 30.00 a month, less 25.5 %
    assert monthly_amount(subscription) == 2235


def test_an_amount_off_coupon_is_per_billing_period_and_never_below_zero() -> None:
    coupon = {"id": "c", "object": "coupon", "percent_off": None, "amount_off": 1200, "currency": "usd"}
    doc = _subscription([{"id": "di_2", "object": "discount", "coupon": coupon}], interval="year")
    assert monthly_amount(mapping.subscription(doc)) == round_minor(Fraction(6000 - 1200, 12))
    huge = {**coupon, "amount_off": 10_000}
    assert monthly_amount(mapping.subscription(_subscription([{"id": "di_3", "coupon": huge}]))) == 0


def test_an_unexpanded_discount_is_kept_without_terms() -> None:
    subscription = mapping.subscription(_subscription(["di_only_an_id"]))
    assert subscription.discounts[0].id == "di_only_an_id" and monthly_amount(subscription) == 6000
