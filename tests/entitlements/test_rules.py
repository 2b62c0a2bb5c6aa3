"""The entitlement function's table of cases. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billhook.entitlements.rules import (
    PlanGrant,
    PurchaseFacts,
    SubscriptionFacts,
    evaluate,
    resulting_role,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GRANTS = {
    "starter": PlanGrant("starter", "starter", ("courses.basic",), rank=1, one_time=True),
    "premium_sub": PlanGrant(
        "premium_sub", "premium", ("courses.basic", "support.email"), rank=3, one_time=False
    ),
    "enterprise_sub": PlanGrant("enterprise_sub", "enterprise", ("seats.team",), rank=4, one_time=False),
    "domain": PlanGrant("domain", None, ("domain",), rank=5, one_time=False),
}


def sub(
    status: str, product: str = "premium_sub", past_due_since: datetime | None = None
) -> SubscriptionFacts:
    return SubscriptionFacts(f"sub_{status}", product, status, past_due_since)


@pytest.mark.parametrize(
    ("facts", "role"),
    [
        (sub("active"), "premium"),
        (sub("trialing"), "premium"),
        (sub("past_due", past_due_since=NOW - timedelta(days=6, hours=23)), "premium"),
        (sub("past_due", past_due_since=NOW - timedelta(days=7)), "free"),
        (sub("past_due", past_due_since=NOW - timedelta(days=30)), "free"),
        (sub("canceled"), "free"),
        (sub("unpaid"), "free"),
        (sub("incomplete"), "free"),
        (sub("incomplete_expired"), "free"),
        (sub("paused"), "free"),
        (sub("something_new"), "free"),
    ],
)
def test_subscription_status_decides_the_role(facts: SubscriptionFacts, role: str) -> None:
    result = evaluate(GRANTS, [facts], [], now=NOW)
    assert result.role == role
    assert result.entitlements == (("courses.basic", "support.email") if role == "premium" else ())
    [reason] = result.reasons
    assert reason.granted is (role == "premium")


def test_the_grace_period_is_configurable_and_reported() -> None:
    since = NOW - timedelta(days=8)
    kept = evaluate(GRANTS, [sub("past_due", past_due_since=since)], [], now=NOW, grace=timedelta(days=10))
    assert kept.role == "premium"
    assert kept.reasons[0].until == since + timedelta(days=10)
    assert "grace period" in kept.reasons[0].detail


def test_no_subscriptions_means_free() -> None:
    result = evaluate(GRANTS, [], [], now=NOW)
    assert (result.role, result.entitlements, result.reasons) == ("free", (), ())


def test_a_one_time_purchase_grants_what_the_catalog_says() -> None:
    result = evaluate(GRANTS, [], [PurchaseFacts("ord_1", "starter")], now=NOW)
    assert result.role == "starter"
    assert result.entitlements == ("courses.basic",)
    assert result.reasons[0].source == "purchase"


def test_the_highest_ranked_role_wins_and_entitlements_add_up() -> None:
    result = evaluate(
        GRANTS,
        [sub("active", "enterprise_sub"), sub("trialing", "premium_sub"), sub("active", "domain")],
        [PurchaseFacts("ord_1", "starter")],
        now=NOW,
    )
    assert result.role == "enterprise"
    assert result.entitlements == ("courses.basic", "domain", "seats.team", "support.email")


def test_a_lapsed_higher_plan_falls_back_to_the_next_grant() -> None:
    result = evaluate(
        GRANTS, [sub("canceled", "enterprise_sub")], [PurchaseFacts("ord_1", "starter")], now=NOW
    )
    assert result.role == "starter"


def test_a_product_missing_from_the_catalog_grants_nothing_and_says_so() -> None:
    result = evaluate(GRANTS, [sub("active", "retired")], [], now=NOW)
    assert result.role == "free"
    assert result.reasons[0].detail == "product 'retired' is not in the catalog"


@pytest.mark.parametrize(
    ("current", "computed", "kept"),
    [
        ("admin", "free", "admin"),
        ("coach", "premium", "coach"),
        ("premium", "free", "free"),
        ("free", "pro", "pro"),
    ],
)
def test_staff_roles_are_never_changed_by_billing(current: str, computed: str, kept: str) -> None:
    assert resulting_role(current, computed) == kept
