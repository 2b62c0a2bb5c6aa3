"""``/pricing`` and ``/account``: the catalog as cards and who you are."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from billhook.accounts.deps import OptionalAuthDep
from billhook.catalog.service import ListedProduct, active_catalog
from billhook.checkout.service import CheckoutDeps
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.kit.formatting import format_money
from billhook.web.checkout_pages import account_subscription_context
from billhook.web.rendering import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)
CHECKOUT_START = "/checkout/start"


def _card(product: ListedProduct) -> dict[str, object]:
    first = product.prices[0]
    every = ""
    if first.interval:
        every = (
            f"/ {first.interval}"
            if first.interval_count == 1
            else f"/ {first.interval_count} {first.interval}s"
        )
    return {
        "id": product.id,
        "name": product.name,
        "description": product.description,
        "subscription": product.type == "subscription",
        "every": every,
        "trial_days": first.trial_days,
        "entitlements": product.entitlements,
        "prices": [
            {"currency": p.currency, "display": format_money(p.unit_amount, p.currency)}
            for p in product.prices
        ],
    }


@router.get("/pricing", response_class=HTMLResponse)
async def pricing(request: Request, session: SessionDep, auth: OptionalAuthDep) -> Response:
    cards = [_card(product) for product in await active_catalog(session)]
    context = {"cards": cards, "checkout_action": CHECKOUT_START}
    return render(request, "pricing.html", context, user=auth.user if auth else None)


# What /account says after one of its forms (a fixed text per outcome; nothing echoed back).
ACCOUNT_NOTICES = {"payment_retried": "Payment received: your subscription is active again. Thank you!"}


@router.get("/account", response_class=HTMLResponse)
async def account(
    request: Request, auth: OptionalAuthDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    if auth is None:
        return redirect("/login?next=/account")
    context: dict[str, object] = {}
    if runtime.provider is not None and runtime.actions is not None and runtime.cache is not None:
        # The subscription section needs the provider (upcoming invoice); the profile does not.
        deps = CheckoutDeps(
            session,
            runtime.actions,
            runtime.provider,
            runtime.settings,
            runtime.clock,
            runtime.cache,
        )
        context = {"billing": True, **await account_subscription_context(deps, auth.user)}
    done = request.query_params.get("done")
    context["notice"] = ACCOUNT_NOTICES.get(done) if done else None
    return render(request, "account.html", context, user=auth.user)
