"""Checkout pages: ``POST /checkout/start`` (the pricing buttons), ``/payment/success``, ``/payment/cancel``.

The success page never trusts the redirect: it verifies the signed token, then syncs the session
from the provider (see :mod:`billhook.checkout.completion`) and polls the status API until the
entitlement is active.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from billhook.accounts.deps import (
    AccountsDep,
    Authenticated,
    OptionalAuthDep,
    csrf_nonce,
    csrf_token_for,
    session_claims,
    set_csrf_cookie,
)
from billhook.catalog.service import active_catalog
from billhook.checkout.completion import verify_success
from billhook.checkout.deps import CheckoutDepsDep
from billhook.checkout.domains import DOMAIN_FULFILMENT
from billhook.checkout.service import CheckoutDeps, CheckoutInput, release_claim, start_checkout
from billhook.checkout.success import InvalidSuccessToken
from billhook.errors import BillhookError
from billhook.http.deps import RuntimeDep, get_runtime
from billhook.kit.formatting import format_date, format_money
from billhook.models import Payment, User
from billhook.payments.checkout_sync import complete_from_redirect
from billhook.runtime import Runtime
from billhook.subscriptions.management import (
    ManagementDeps,
    cancel_at_period_end,
    change_plan,
    portal_url,
    resume,
    retry_payment,
)
from billhook.subscriptions.overview import cached_overview
from billhook.web.auth_pages import form_fields, signed_in
from billhook.web.pricing import RefusedForm, render_pricing
from billhook.web.rendering import redirect, templates

router = APIRouter(tags=["pages"], include_in_schema=False)


def render_checkout(
    request: Request, template: str, context: dict[str, Any], *, user: User | None, status_code: int = 200
) -> HTMLResponse:
    """Render ``checkout/<template>`` with the CSRF token and user, like the other pages."""
    runtime = get_runtime(request)
    nonce, new = csrf_nonce(request)
    token = csrf_token_for(runtime, nonce, session_claims(request, runtime))
    response = templates.TemplateResponse(
        request,
        f"checkout/{template}",
        {"csrf_token": token, "user": user, **context},
        status_code=status_code,
    )
    if new:
        set_csrf_cookie(response, runtime, nonce)
    return response


def _problem(request: Request, user: User | None, title: str, message: str, status_code: int) -> HTMLResponse:
    return render_checkout(request, "problem.html", {"title": title, "message": message}, user=user,
                           status_code=status_code)  # fmt: skip


@router.post("/checkout/start")
async def start(
    request: Request,
    runtime: RuntimeDep,
    auth: OptionalAuthDep,
    deps: CheckoutDepsDep,
    background: BackgroundTasks,
) -> Response:
    """The pricing page's Subscribe/Buy button: open a session and go to the hosted page (303)."""
    fields = await form_fields(request, runtime)
    if isinstance(fields, HTMLResponse):
        return fields
    if auth is None:
        return redirect("/signup?next=/pricing")
    data = CheckoutInput(
        product_id=fields.get("product_id") or None,
        currency=fields.get("currency") or None,
        domain=fields.get("domain", "").strip() or None,
    )
    try:
        started = await start_checkout(deps, auth.user, data)
    except BillhookError as exc:
        if exc.details.get("field") == "domain" and data.product_id:
            # The name typed is refused: the pricing page again, the reason under the field.
            reason = exc.message.removeprefix("domain: ")
            refused = RefusedForm(data.product_id, fields.get("domain", ""), reason)
            return await render_pricing(
                request, deps.session, auth.user, refused=refused, status_code=exc.status_code
            )
        return _problem(request, auth.user, "Checkout could not start", exc.message, exc.status_code)
    background.add_task(release_claim, deps.cache, auth.user.id, started)  # after the commit
    return redirect(started.url)


@router.get("/payment/success", response_class=HTMLResponse)
async def success(
    request: Request,
    *,
    runtime: RuntimeDep,
    deps: CheckoutDepsDep,
    accounts: AccountsDep,
    auth: OptionalAuthDep,
    session_id: str | None = None,
    token: str | None = None,
) -> Response:
    user = auth.user if auth else None
    try:
        row = await verify_success(deps, session_id, token)
        user = await complete_from_redirect(deps, row)
    except InvalidSuccessToken as exc:
        await deps.session.rollback()
        message = f"{exc}. If you paid, your plan appears on your account page shortly."
        return _problem(request, user, "This payment link is not valid", message, 400)
    except BillhookError as exc:
        await deps.session.rollback()
        return _problem(request, user, "We could not confirm your payment yet", exc.message, exc.status_code)
    context = {"session_id": row.stripe_id, "product_id": row.product_id, "mode": row.mode}
    response = render_checkout(request, "success.html", context, user=user)
    if auth is None or auth.user.id != user.id:
        signed_in(response, runtime, accounts, user)
    return response


@router.get("/payment/cancel", response_class=HTMLResponse)
async def cancel(request: Request, auth: OptionalAuthDep) -> Response:
    return render_checkout(request, "cancel.html", {}, user=auth.user if auth else None)


# -- the subscription part of /account ------------------------------------------------------------


def _management(deps: CheckoutDeps) -> ManagementDeps:
    return ManagementDeps(deps.session, deps.actions, deps.provider, deps.settings, deps.clock, deps.cache)


async def account_subscription_context(deps: CheckoutDeps, user: User) -> dict[str, Any]:
    """What ``account/_subscription.html`` needs; the lead's ``/account`` merges it into its context."""
    management = _management(deps)
    subscription = (await cached_overview(management, user)).data
    plans = [
        {"id": product.id, "name": product.name}
        for product in await active_catalog(deps.session)
        # plans only: a domain subscription renews its domain and never becomes a plan, or one
        if product.type == "subscription"
        and product.fulfilment != DOMAIN_FULFILMENT
        and product.id != subscription.get("plan")
        and subscription.get("kind") != "domain"
    ]
    rows = await deps.session.scalars(
        select(Payment).where(Payment.user_id == user.id).order_by(Payment.created_at.desc()).limit(50)
    )
    payments = [
        {
            "date": format_date(row.created_at),
            "amount": format_money(row.amount, row.currency),
            "status": row.status.lower().replace("_", " "),
            "description": row.description or "",
        }
        for row in rows
    ]
    upcoming = subscription.get("upcoming_invoice")
    if upcoming:
        upcoming = {**upcoming, "display": format_money(upcoming["amount_due"], upcoming["currency"])}
    return {
        "subscription": {**subscription, "upcoming_invoice": upcoming},
        "plans": plans,
        "payments": payments,
    }


async def _account_action(
    request: Request, runtime: Runtime, auth: Authenticated | None
) -> dict[str, str] | Response:
    fields = await form_fields(request, runtime)
    if isinstance(fields, HTMLResponse):
        return fields
    if auth is None:
        return redirect("/login?next=/account")
    return fields


@router.post("/account/subscription/{action}")
async def account_subscription_action(
    action: str, request: Request, runtime: RuntimeDep, auth: OptionalAuthDep, deps: CheckoutDepsDep
) -> Response:
    """The account page's cancel, resume, change-plan, retry-payment and manage-billing forms
    (CSRF-checked). A retry that the bank declines shows why, with the way back to update the card."""
    fields = await _account_action(request, runtime, auth)
    if not isinstance(fields, dict):
        return fields
    assert auth is not None
    user, management, actor = auth.user, _management(deps), f"user:{auth.user.id}"
    try:
        if action == "cancel":
            await cancel_at_period_end(
                management, user, reason=fields.get("reason") or None, requested_by=actor
            )
        elif action == "resume":
            await resume(management, user, requested_by=actor)
        elif action == "change-plan":
            product_id = fields.get("product_id", "")
            await change_plan(management, user, product_id=product_id, preview=False, requested_by=actor)
        elif action == "retry":
            await retry_payment(management, user)
            return redirect("/account?done=payment_retried")
        elif action == "portal":
            return redirect(
                await portal_url(management, user, return_url=f"{deps.settings.billhook_base_url}/account")
            )
        else:
            return _problem(request, user, "Unknown action", f"{action!r} is not an account action", 404)
    except BillhookError as exc:
        await deps.session.rollback()
        await deps.session.refresh(user)  # the rollback expired it; the page renders it synchronously
        return _problem(request, user, "That did not work", exc.message, exc.status_code)
    return redirect("/account")
