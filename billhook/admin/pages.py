"""``/admin``: the operator console's pages and actions (a thin shell; see rendering.py for the rules).

Reads go through :mod:`billhook.admin.repository`, actions through :mod:`billhook.admin.service`
(which composes the domain services the API and CLI use). After an action the browser is sent
back (303) to the page it came from with a short notice, so a reload never repeats it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.accounts.deps import CacheDep
from billhook.admin import charts, repository, service
from billhook.admin.filters import (
    STATUSES,
    Cursor,
    ListFilter,
    decode_cursor,
    form_ids,
    known_id,
    parse_filter,
    search_text,
)
from billhook.admin.rendering import AdminDep, AdminRoute, action_form, page, redirect, text, texts
from billhook.analytics.service import cached_overview, parse_period
from billhook.analytics.service import operations as operations_summary
from billhook.checkout.deps import ActionsDep, ProviderDep
from billhook.entitlements.rules import Entitlements, resulting_role
from billhook.entitlements.service import entitlements_for, grace_period
from billhook.errors import InvalidInput, NotFound
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.kit.money import validate_currency
from billhook.payments.stats import invalidate_payment_stats
from billhook.subscriptions.management import ManagementDeps

router = APIRouter(prefix="/admin", tags=["admin"], include_in_schema=False, route_class=AdminRoute)
STYLESHEET = Path(__file__).parent / "static" / "admin.css"

# The notices an action's redirect may ask for: codes, never text from the URL.
NOTICES = {
    "refund": "Refund requested. The payment shows it as soon as the provider confirms it.",
    "cancel": "Cancellation sent to the provider; the subscription below shows its new state.",
    "replay": "Replayed {n} event(s).",
    "retry": "Queued {n} dead job(s) again.",
    "resend": "Queued {n} email(s) to be sent again.",
    "reconcile": "Reconciled with the provider: {n} missing event(s) stored.",
}


def _notice(request: Request) -> str | None:
    template = NOTICES.get(request.query_params.get("done", ""))
    if template is None:
        return None
    count = request.query_params.get("n", "")
    return template.format(n=int(count) if count.isdigit() and len(count) < 7 else "some")


def _done(path: str, code: str, count: int | None = None) -> Response:
    query = {"done": code, **({"n": str(count)} if count is not None else {})}
    return redirect(f"{path}?{urlencode(query)}")


@router.get("/static/admin.css")
async def stylesheet(_admin: AdminDep) -> Response:
    """The console's only stylesheet, served by Billhook (no CDN, no web fonts)."""
    return Response(
        STYLESHEET.read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "private, max-age=3600"},
    )


# -- overview -------------------------------------------------------------------------------------


def _currency(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return validate_currency(value)
    except ValueError:
        raise InvalidInput("currency: use a three-letter code such as usd", field="currency") from None


@router.get("")
async def overview(request: Request, session: SessionDep, runtime: RuntimeDep, admin: AdminDep) -> Response:
    """The figures of docs/analytics.md for one period and currency, with their charts."""
    params, now = request.query_params, runtime.clock.now()
    preset = (params.get("period") or "30d").strip().lower()
    custom = preset == "custom"
    start, end = (params.get("from") or None, params.get("to") or None) if custom else (None, None)
    period = parse_period(preset, start, end, params.get("interval") or None, now)
    settings = runtime.settings  # the API's reporting figures too: one cached overview for both
    figures = await cached_overview(
        session, runtime.cache, period, currency=_currency(params.get("currency")), now=now,
        rates=settings.billhook_reporting_rates, reporting_currency=settings.billhook_reporting_currency,
    )  # fmt: skip
    series, currency = figures.series, figures.currency
    context = {
        "overview": figures,
        "picked": {"period": preset, "start": start or "", "end": end or ""},
        "ignored_dates": not custom and bool(params.get("from") or params.get("to")),
        "charts": {
            "mrr": charts.mrr_chart(series, period.interval, currency),
            "movements": charts.movements_chart(series, period.interval, currency),
            "subscribers": charts.subscribers_chart(series, period.interval),
            "payments": charts.payments_chart(series, period.interval),
        },
    }
    return page(request, "overview.html", context, user=admin)


# -- lists ------------------------------------------------------------------------------------------

Fetch = Callable[[AsyncSession, ListFilter, Cursor | None], Awaitable[repository.Page]]
LISTS: dict[str, tuple[str, Fetch]] = {
    "subscriptions": ("Subscriptions", repository.subscriptions),
    "payments": ("Payments", repository.payments),
    "invoices": ("Invoices", repository.invoices),
    "bookings": ("Bookings", repository.bookings),
    "orders": ("Orders", repository.orders),
}


async def _list(request: Request, session: AsyncSession, admin: AdminDep, kind: str) -> Response:
    params = request.query_params
    chosen = parse_filter(kind, params)
    cursor = decode_cursor(params.get("cursor"))
    heading, fetch = LISTS[kind]
    found = await fetch(session, chosen, cursor)
    query = chosen.query()
    context = {
        "kind": kind,
        "heading": heading,
        "rows": found.rows,
        "filters": chosen,
        "query": query,
        "statuses": STATUSES[kind],
        "plans": await repository.plans(session),
        "ignored": found.ignored,
        "next_url": f"/admin/{kind}?{urlencode({**query, 'cursor': found.next_cursor})}"
        if found.next_cursor
        else None,
        "first_url": f"/admin/{kind}?{urlencode(query)}" if cursor else None,
    }
    return page(request, "list.html", context, user=admin)


@router.get("/subscriptions")
async def subscriptions(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return await _list(request, session, admin, "subscriptions")


@router.get("/payments")
async def payments(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return await _list(request, session, admin, "payments")


@router.get("/invoices")
async def invoices(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return await _list(request, session, admin, "invoices")


@router.get("/bookings")
async def bookings(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return await _list(request, session, admin, "bookings")


@router.get("/orders")
async def orders(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return await _list(request, session, admin, "orders")


# -- customers --------------------------------------------------------------------------------------


@router.get("/customers")
async def customers(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    q = search_text(request.query_params.get("q"))
    cursor = decode_cursor(request.query_params.get("cursor"))
    found = await repository.search_customers(session, q, cursor)
    query = {"q": q} if q else {}
    context = {
        "q": q,
        "rows": found.rows,
        "next_url": f"/admin/customers?{urlencode({**query, 'cursor': found.next_cursor})}"
        if found.next_cursor
        else None,
        "first_url": f"/admin/customers?{urlencode(query)}" if cursor else None,
    }
    return page(request, "customers.html", context, user=admin)


@router.get("/customers/{customer_id}")
async def customer(
    customer_id: str, request: Request, session: SessionDep, runtime: RuntimeDep, admin: AdminDep
) -> Response:
    view = await repository.customer_view(session, known_id(customer_id, "customer"))
    if view is None:
        raise NotFound(f"no customer {customer_id}")
    access: Entitlements | None = None
    if view.user is not None:
        computed = await entitlements_for(
            session, view.user, now=runtime.clock.now(), grace=grace_period(runtime.settings)
        )
        role = resulting_role(view.user.role, computed.role)
        access = Entitlements(role, computed.entitlements, computed.reasons)
    context = {
        "view": view,
        "access": access,
        "refund_reasons": service.REFUND_REASONS,
        "notice": _notice(request),
    }
    return page(request, "customer.html", context, user=admin)


@router.post("/payments/{payment_id}/refund")
async def refund(
    payment_id: str,
    request: Request,
    *,
    session: SessionDep,
    runtime: RuntimeDep,
    admin: AdminDep,
    actions: ActionsDep,
    cache: CacheDep,
) -> Response:
    form = await action_form(request)
    requested = await service.refund_payment(
        session,
        actions,
        service.Admin(admin),
        payment_id=known_id(payment_id, "payment"),
        amount=text(form, "amount", limit=40),
        reason=text(form, "reason", limit=40),
        now=runtime.clock.now(),
    )
    await invalidate_payment_stats(cache)
    customer_id = requested.payment.customer_id
    return _done(f"/admin/customers/{customer_id}" if customer_id else "/admin/payments", "refund")


@router.post("/subscriptions/{subscription_id}/cancel")
async def cancel(
    subscription_id: str,
    request: Request,
    *,
    session: SessionDep,
    runtime: RuntimeDep,
    admin: AdminDep,
    actions: ActionsDep,
    provider: ProviderDep,
    cache: CacheDep,
) -> Response:
    form = await action_form(request)
    when = text(form, "when", limit=20)
    if when not in ("period_end", "now"):
        raise InvalidInput("when: choose at period end or now", field="when")
    deps = ManagementDeps(session, actions, provider, runtime.settings, runtime.clock, cache)
    row = await service.cancel_subscription(
        deps,
        service.Admin(admin),
        subscription_id=known_id(subscription_id, "subscription"),
        at_period_end=when == "period_end",
        reason=text(form, "reason") or None,
    )
    return _done(
        f"/admin/customers/{row.customer_id}" if row.customer_id else "/admin/subscriptions", "cancel"
    )


# -- operations -------------------------------------------------------------------------------------


@router.get("/operations")
async def operations(request: Request, session: SessionDep, runtime: RuntimeDep, admin: AdminDep) -> Response:
    period = parse_period(request.query_params.get("period") or "30d", None, None, None, runtime.clock.now())
    context = {
        "lists": await repository.operations_lists(session),
        "notice": _notice(request),
        "summary": await operations_summary(session, period),
        "summary_period": period,
        "now": runtime.clock.now(),  # a job's shown state (running = under a live lease) needs it
    }
    return page(request, "operations.html", context, user=admin)


@router.post("/operations/replay")
async def replay(request: Request, session: SessionDep, runtime: RuntimeDep, admin: AdminDep) -> Response:
    form = await action_form(request)
    ids = form_ids(texts(form, "ids"), "ids")
    outcomes = await service.replay_events(session, runtime, service.Admin(admin), ids)
    return _done("/admin/operations", "replay", len(outcomes))


@router.post("/operations/retry")
async def retry(request: Request, session: SessionDep, runtime: RuntimeDep, admin: AdminDep) -> Response:
    form = await action_form(request)
    ids = form_ids(texts(form, "ids"), "ids")
    jobs = await service.retry_jobs(session, service.Admin(admin), ids, runtime.clock.now())
    return _done("/admin/operations", "retry", len(jobs))


@router.post("/operations/resend")
async def resend(request: Request, session: SessionDep, runtime: RuntimeDep, admin: AdminDep) -> Response:
    form = await action_form(request)
    ids = form_ids(texts(form, "ids"), "ids")
    messages = await service.resend_emails(session, service.Admin(admin), ids, runtime.clock.now())
    return _done("/admin/operations", "resend", len(messages))


@router.post("/operations/reconcile")
async def reconcile(request: Request, session: SessionDep, runtime: RuntimeDep, admin: AdminDep) -> Response:
    form = await action_form(request)
    hours = service.reconcile_hours(text(form, "hours", limit=10))
    report = await service.run_reconcile(session, runtime, service.Admin(admin), hours)
    return _done("/admin/operations", "reconcile", report.stored)
