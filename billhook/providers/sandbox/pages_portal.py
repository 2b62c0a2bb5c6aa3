"""The hosted billing portal: current plan and card, switch plan (proration shown first), cancel at
period end, resume, update card, and a link back to ``return_url``."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from . import portal
from .customers import card_payment_method
from .errors import CardDeclined, StripeError
from .pages import Pages, parse_expiry
from .periods import format_amount, format_date
from .store import Doc, Tx
from .timers import period_end_of


class PortalPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.store = pages.store

    async def page(self, request: Request) -> Response:
        notice = {
            "switched": "Your plan was changed.",
            "canceled": "Your subscription will end at the end of the period.",
            "resumed": "Your subscription will continue.",
            "card": "Your card was updated.",
        }.get(request.query_params.get("done", ""))
        async with self.store.transaction() as tx:
            session = await self._portal(tx, request)
            if session is None:
                return self.pages.message("Not found", "No such billing portal session.", 404)
            return await self._render(tx, session, notice=notice)

    async def _portal(self, tx: Tx, request: Request) -> Doc | None:
        session = await tx.get(request.path_params["portal_id"])
        return session if session is not None and session["object"] == "billing_portal.session" else None

    async def _render(
        self, tx: Tx, session: Doc, *, notice: str | None = None, error: str | None = None, status: int = 200
    ) -> HTMLResponse:
        customer = await tx.load("customer", session["customer"], param="customer")
        entries = []
        for sub in await portal.live_subscriptions(tx, customer["id"]):
            price = sub["items"]["data"][0]["price"]
            entries.append(
                {
                    "sub": sub,
                    "plan": await _plan_name(tx, price),
                    "interval": price["recurring"]["interval"],
                    "amount": format_amount(price["unit_amount"], price["currency"]),
                    "period_end": format_date(period_end_of(sub)),
                    "prices": [
                        {"id": p["id"], "label": await _price_label(tx, p)}
                        for p in await portal.switchable_prices(tx, sub)
                    ],
                }
            )
        pm_id = customer["invoice_settings"]["default_payment_method"] or next(
            (e["sub"]["default_payment_method"] for e in entries if e["sub"]["default_payment_method"]), None
        )
        pm = await tx.get(pm_id) if pm_id else None
        return self.pages.render(
            "portal.html",
            status,
            portal=session,
            customer=customer,
            subscriptions=entries,
            card=pm["card"] if pm else None,
            form_token=session["_form_token"],
            notice=notice,
            error=error,
        )

    async def _checked(self, tx: Tx, request: Request, form: FormData) -> tuple[Doc | None, Response | None]:
        session = await self._portal(tx, request)
        if session is None:
            return None, self.pages.message("Not found", "No such billing portal session.", 404)
        if not secrets.compare_digest(str(form.get("form_token", "")), session["_form_token"]):
            return None, self.pages.message("Form expired", "Reload the page and try again.", 403)
        return session, None

    async def _subscription(self, tx: Tx, session: Doc, request: Request) -> Doc | None:
        sub = await tx.get(request.path_params["subscription_id"])
        if sub is None or sub["object"] != "subscription" or sub["customer"] != session["customer"]:
            return None
        return sub

    def _back(self, session: Doc, done: str) -> Response:
        return RedirectResponse(f"{self.pages.base}/portal/{session['id']}?done={done}", status_code=303)

    async def preview(self, request: Request) -> Response:
        form = await request.form()
        async with self.store.transaction() as tx:
            session, refusal = await self._checked(tx, request, form)
            if session is None:
                return refusal or self.pages.message("Not found", "Not found.", 404)
            sub = await self._subscription(tx, session, request)
            price = await _price(tx, str(form.get("price", "")))
            if sub is None or price is None:
                return await self._render(tx, session, error="Choose a plan to switch to.", status=400)
            lines = await portal.preview_switch(tx, sub, price)
            shown = [
                {"description": line.description, "amount": format_amount(line.amount, sub["currency"])}
                for line in lines
            ]
            return self.pages.render(
                "portal_preview.html",
                portal=session,
                sub_id=sub["id"],
                price_id=price["id"],
                lines=shown,
                new_plan=await _price_label(tx, price),
                form_token=session["_form_token"],
                proration=format_amount(sum(line.amount for line in lines), sub["currency"]),
                explanation="The adjustment is added to your next invoice.",
            )

    async def switch(self, request: Request) -> Response:
        return await self._act(request, "switched", self._switch)

    async def cancel(self, request: Request) -> Response:
        return await self._act(
            request, "canceled", lambda tx, sub, form: portal.set_cancel_at_period_end(tx, sub, True)
        )

    async def resume(self, request: Request) -> Response:
        return await self._act(
            request, "resumed", lambda tx, sub, form: portal.set_cancel_at_period_end(tx, sub, False)
        )

    async def _switch(self, tx: Tx, sub: Doc, form: FormData) -> None:
        price = await _price(tx, str(form.get("price", "")))
        if price is None:
            raise StripeError("Choose a plan to switch to.")
        await portal.switch(tx, sub, price)

    async def _act(self, request: Request, done: str, action: Any) -> Response:
        form = await request.form()
        async with self.store.transaction() as tx:
            session, refusal = await self._checked(tx, request, form)
            if session is None:
                return refusal or self.pages.message("Not found", "Not found.", 404)
            sub = await self._subscription(tx, session, request)
            if sub is None:
                return await self._render(tx, session, error="No such subscription.", status=404)
            try:
                await action(tx, sub, form)
            except StripeError as error:
                return await self._render(tx, session, error=error.message, status=400)
            return self._back(session, done)

    async def update_card(self, request: Request) -> Response:
        form = await request.form()
        async with self.store.transaction() as tx:
            session, refusal = await self._checked(tx, request, form)
            if session is None:
                return refusal or self.pages.message("Not found", "Not found.", 404)
            customer = await tx.load("customer", session["customer"], param="customer")
            month, year = parse_expiry(str(form.get("exp", "")))
            try:
                pm = await card_payment_method(
                    tx, str(form.get("card_number", "")), month, year, param="card[number]"
                )
                await portal.replace_card(tx, customer, pm)
            except CardDeclined as declined:
                return await self._render(tx, session, error=declined.message, status=402)
            return self._back(session, "card")


async def _price(tx: Tx, price_id: str) -> Doc | None:
    price = await tx.get(price_id) if price_id else None
    return price if price is not None and price["object"] == "price" and price["active"] else None


async def _plan_name(tx: Tx, price: Doc) -> str:
    product = await tx.get(price["product"])
    return str(product["name"]) if product else str(price["product"])


async def _price_label(tx: Tx, price: Doc) -> str:
    interval = (price["recurring"] or {}).get("interval", "once")
    amount = format_amount(price["unit_amount"], price["currency"])
    return f"{await _plan_name(tx, price)}: {amount} / {interval}"
