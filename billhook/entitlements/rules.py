"""Entitlements as one pure function of the subscription mirror, one-time purchases and the catalog.

Rules (Stripe's subscription statuses, https://docs.stripe.com/billing/subscriptions/overview):

- ``active`` and ``trialing`` grant the plan.
- ``past_due`` keeps the plan for a grace period counted from when the subscription went past
  due. Stripe (and the sandbox) advance the billing period *before* charging a renewal, so a
  failed renewal makes the subscription past due at the start of its current period:
  ``past_due_since`` is ``current_period_start`` (see the repository for the fallbacks).
- ``canceled``, ``unpaid``, ``incomplete``, ``incomplete_expired``, ``paused`` and anything
  unknown grant nothing.
- A paid one-time purchase grants what its catalog product grants, for good.

The user's role is the role of the highest-ranked grant that has one, else ``free``;
entitlements are the union of all grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

FREE = "free"
PROTECTED_ROLES = frozenset({"admin", "coach"})
GRANTING = frozenset({"active", "trialing"})
DEFAULT_GRACE = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class PlanGrant:
    """What one catalog product grants, and its rank."""

    product_id: str
    role: str | None
    entitlements: tuple[str, ...]
    rank: int
    one_time: bool


@dataclass(frozen=True, slots=True)
class SubscriptionFacts:
    id: str
    product_id: str | None
    status: str
    past_due_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class PurchaseFacts:
    order_id: str
    product_id: str


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a source grants (or no longer grants) something; shown by ``/api/me/entitlements``."""

    source: str  # subscription | purchase
    source_id: str
    product_id: str | None
    status: str
    granted: bool
    role: str | None
    entitlements: tuple[str, ...]
    detail: str
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Entitlements:
    role: str
    entitlements: tuple[str, ...]
    reasons: tuple[Reason, ...]


def evaluate(
    grants: Mapping[str, PlanGrant],
    subscriptions: Iterable[SubscriptionFacts],
    purchases: Iterable[PurchaseFacts],
    *,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> Entitlements:
    reasons = [_subscription_reason(grants, s, now, grace) for s in subscriptions]
    reasons += [_purchase_reason(grants, p) for p in purchases]
    granted = [r for r in reasons if r.granted]
    ranked = [(grants[r.product_id].rank, r.role) for r in granted if r.role and r.product_id]
    role = max(ranked)[1] if ranked else FREE
    names = sorted({name for r in granted for name in r.entitlements})
    return Entitlements(role=role, entitlements=tuple(names), reasons=tuple(reasons))


def resulting_role(current: str, computed: str) -> str:
    """Staff roles are set by hand and never changed by billing."""
    return current if current in PROTECTED_ROLES else computed


def _subscription_reason(
    grants: Mapping[str, PlanGrant], sub: SubscriptionFacts, now: datetime, grace: timedelta
) -> Reason:
    grant = grants.get(sub.product_id or "")

    def reason(granted: bool, detail: str, until: datetime | None = None) -> Reason:
        return Reason(
            source="subscription",
            source_id=sub.id,
            product_id=sub.product_id,
            status=sub.status,
            granted=granted and grant is not None,
            role=grant.role if grant else None,
            entitlements=grant.entitlements if grant else (),
            detail=detail if grant else f"product {sub.product_id!r} is not in the catalog",
            until=until,
        )

    if sub.status in GRANTING:
        return reason(True, f"subscription is {sub.status}")
    if sub.status == "past_due":
        if sub.past_due_since is None:
            return reason(True, "payment is past due; the grace period has not started")
        until = sub.past_due_since + grace
        if now < until:
            return reason(True, "payment is past due; access is kept during the grace period", until)
        return reason(False, "payment is past due and the grace period is over", until)
    return reason(False, f"subscription is {sub.status}")


def _purchase_reason(grants: Mapping[str, PlanGrant], purchase: PurchaseFacts) -> Reason:
    grant = grants.get(purchase.product_id)
    return Reason(
        source="purchase",
        source_id=purchase.order_id,
        product_id=purchase.product_id,
        status="paid",
        granted=grant is not None,
        role=grant.role if grant else None,
        entitlements=grant.entitlements if grant else (),
        detail="one-time purchase" if grant else f"product {purchase.product_id!r} is not in the catalog",
    )
