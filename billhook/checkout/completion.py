"""The success redirect's checks and the status the success page polls.

:func:`verify_success` proves the redirect belongs to the checkout it names; applying the session
then goes through the one checkout-sync service the webhook uses
(:func:`billhook.payments.checkout_sync.complete_from_redirect`).
"""

from __future__ import annotations

from dataclasses import dataclass

from billhook.checkout import repository
from billhook.checkout.service import CACHE_NAMESPACE, CheckoutDeps
from billhook.checkout.success import InvalidSuccessToken, SuccessTokens
from billhook.entitlements import entitlements_for
from billhook.entitlements.service import grace_period
from billhook.errors import NotFound
from billhook.models import CheckoutSession, User


@dataclass(frozen=True, slots=True)
class CheckoutStatus:
    session_id: str
    status: str
    payment_status: str | None
    mode: str
    product_id: str | None
    entitlement_active: bool
    role: str


async def verify_success(deps: CheckoutDeps, session_id: str | None, token: str | None) -> CheckoutSession:
    """The session row the token was issued for; :class:`InvalidSuccessToken` otherwise."""
    claims = SuccessTokens(deps.settings.secret_key).read(token)
    if not session_id:
        raise InvalidSuccessToken("the link names no checkout session")
    row = await repository.checkout_by_stripe_id(deps.session, session_id)
    if row is None or row.user_id != claims.user_id or row.order_id != claims.order_id:
        raise InvalidSuccessToken("this link does not belong to this checkout")
    cached = await deps.cache.get(CACHE_NAMESPACE, session_id)
    if isinstance(cached, dict) and cached.get("token") not in (None, token):
        raise InvalidSuccessToken("this link does not belong to this checkout")
    return row


async def checkout_status(deps: CheckoutDeps, user: User, session_id: str) -> CheckoutStatus:
    """What the success page polls; another user's session is 404 (no probing of ids)."""
    row = await repository.checkout_by_stripe_id(deps.session, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound("no such checkout session")
    result = await entitlements_for(
        deps.session, user, now=deps.clock.now(), grace=grace_period(deps.settings)
    )
    active = any(r.granted and r.product_id == row.product_id for r in result.reasons)
    return CheckoutStatus(
        session_id=row.stripe_id,
        status=row.status,
        payment_status=row.payment_status,
        mode=row.mode,
        product_id=row.product_id,
        entitlement_active=active,
        role=user.role,
    )
