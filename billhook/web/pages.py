"""``/pricing`` and ``/account``: the catalog as cards and who you are."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from billhook.accounts.deps import OptionalAuthDep
from billhook.checkout.service import CheckoutDeps
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.web.checkout_pages import account_subscription_context
from billhook.web.pricing import render_pricing
from billhook.web.rendering import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/pricing", response_class=HTMLResponse)
async def pricing(request: Request, session: SessionDep, auth: OptionalAuthDep) -> Response:
    return await render_pricing(request, session, auth.user if auth else None)


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
