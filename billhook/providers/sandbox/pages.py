"""Hosted pages: checkout, the 3-D Secure step, invoices and receipts. Plain HTML forms, no JS.

Each form carries a per-session ``form_token`` (checkout, portal) or the intent's client secret
(3-D Secure), so a stray POST cannot pay a session.
"""

from __future__ import annotations

import secrets
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from . import checkout, payments, setup
from .cards import Decline
from .customers import card_payment_method
from .errors import CardDeclined, StripeError
from .invoices import settle_intent
from .periods import format_amount
from .store import Doc, Store, Tx

AUTH_FAILED = (
    "We are unable to authenticate your payment method. "
    "Please choose a different payment method and try again."
)


def parse_expiry(value: str) -> tuple[int, int]:
    """``"12/34"`` or ``"12 / 2034"`` → (12, 2034); anything else is an invalid month."""
    month, _, year = value.replace(" ", "").partition("/")
    try:
        return int(month), int(year)
    except ValueError:
        return 0, 0


class Pages:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.env = Environment(
            loader=PackageLoader("billhook.providers.sandbox", "templates"),
            autoescape=select_autoescape(default=True),
        )

    @property
    def base(self) -> str:
        return self.store.config.base_url

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(base=self.base, **context)
        return HTMLResponse(html, status_code=status)

    def message(
        self, heading: str, message: str, status: int, *, kind: str = "error", link: str | None = None
    ) -> HTMLResponse:
        return self.render("message.html", status, heading=heading, message=message, kind=kind, link=link)

    async def error_page(self, request: Request, error: Exception) -> Response:
        """A hosted page that hit a Stripe-style error (e.g. its customer was deleted)."""
        status = error.status if isinstance(error, StripeError) else 500
        message = error.message if isinstance(error, StripeError) else "Something went wrong."
        return self.message("Something went wrong", message, status)

    # checkout

    async def checkout_page(self, request: Request) -> Response:
        async with self.store.transaction() as tx:
            session = await self._session(tx, request.path_params["session_id"])
            if session is None:
                return self.message("Not found", "No such checkout session.", 404)
            return await self._checkout(tx, session)

    async def _session(self, tx: Tx, session_id: str) -> Doc | None:
        try:
            return await checkout.load_session(tx, session_id)
        except StripeError:
            return None

    async def _checkout(
        self, tx: Tx, session: Doc, error: str | None = None, status: int = 200, email: str | None = None
    ) -> HTMLResponse:
        lines = []
        for item in session["_line_items"]:
            recurring = item["price"]["recurring"]
            lines.append(
                {
                    "description": item["description"],
                    "quantity": item["quantity"],
                    "amount": format_amount(item["amount_total"], item["currency"]),
                    "interval": recurring["interval"] if recurring else None,
                }
            )
        customer = await tx.get(session["customer"]) if session["customer"] else None
        trial = session["_subscription_data"]["trial_period_days"]
        total = sum(
            item["amount_total"]
            for item in session["_line_items"]
            if not trial or item["price"]["type"] == "one_time"
        )
        return self.render(
            "checkout.html",
            status,
            session=session,
            lines=lines,
            error=error,
            email=email,
            total=format_amount(total, session["currency"] or "usd"),
            trial_days=trial,
            form_token=session["_form_token"],
            needs_email=customer is None and not session["customer_email"],
            email_shown=customer["email"] if customer and customer["email"] else session["customer_email"],
        )

    async def checkout_pay(self, request: Request) -> Response:
        form = await request.form()
        async with self.store.transaction() as tx:
            session = await self._session(tx, request.path_params["session_id"])
            refusal = self._refuse(session, str(form.get("form_token", "")))
            if refusal is not None or session is None:
                return refusal or self.message("Not found", "No such checkout session.", 404)
            email = str(form.get("email", "")).strip() or None
            if email is None and not session["customer"] and not session["customer_email"]:
                return await self._checkout(tx, session, "Enter your email address.", 400)
            month, year = parse_expiry(str(form.get("exp", "")))
            try:
                pm = await card_payment_method(
                    tx, str(form.get("card_number", "")), month, year, param="card[number]", email=email
                )
            except CardDeclined as declined:
                return await self._checkout(tx, session, declined.message, 402, email)
            result = payments.card_outcome(pm, off_session=False)
            if isinstance(result, Decline):
                await checkout.decline_payment(tx, session, pm, result)
                return await self._checkout(tx, session, result.message, 402, email)
            if result == "authenticate":
                session["_pending_payment_method"], session["_pending_email"] = pm["id"], email
                await tx.put(session)
                return self._authenticate_page(session)
            await checkout.complete(tx, session, pm, email)
            return self._after_checkout(session)

    def _refuse(self, session: Doc | None, token: str) -> HTMLResponse | None:
        if session is None:
            return None
        if not secrets.compare_digest(token, session["_form_token"]):
            return self.message(
                "Form expired", "This form is no longer valid. Reload the page and try again.", 403
            )
        if session["status"] != "open":
            return self.message("Checkout closed", f"This checkout session is {session['status']}.", 409)
        return None

    def _authenticate_page(self, session: Doc) -> HTMLResponse:
        return self.render(
            "authenticate.html",
            action=f"{self.base}/checkout/{session['id']}/authenticate",
            hidden={"form_token": session["_form_token"]},
            amount=format_amount(session["amount_total"] or 0, session["currency"] or "usd"),
        )

    def _after_checkout(self, session: Doc) -> Response:
        target = session["success_url"]
        if not target:
            return self.message("Thank you", "Checkout complete.", 200, kind="notice")
        return RedirectResponse(target.replace("{CHECKOUT_SESSION_ID}", session["id"]), status_code=303)

    async def checkout_authenticate(self, request: Request) -> Response:
        form = await request.form()
        async with self.store.transaction() as tx:
            session = await self._session(tx, request.path_params["session_id"])
            refusal = self._refuse(session, str(form.get("form_token", "")))
            if refusal is not None or session is None:
                return refusal or self.message("Not found", "No such checkout session.", 404)
            pm_id = session.pop("_pending_payment_method", None)
            email = session.pop("_pending_email", None)
            await tx.put(session)
            pm = await tx.get(pm_id) if pm_id else None
            if pm is None:
                return await self._checkout(tx, session, "Enter your card details again.", 409)
            if form.get("outcome") != "approve":
                return await self._checkout(tx, session, AUTH_FAILED, 402, email)
            await checkout.complete(tx, session, pm, email)
            return self._after_checkout(session)

    # 3-D Secure for PaymentIntents and SetupIntents confirmed through the API

    async def intent_page(self, request: Request) -> Response:
        async with self.store.transaction() as tx:
            intent = await tx.get(request.path_params["intent_id"])
            if intent is None or intent["object"] not in ("payment_intent", "setup_intent"):
                return self.message("Not found", "No such payment.", 404)
            if intent["status"] != "requires_action":
                return self.message("Nothing to do", f"This payment is {intent['status']}.", 409)
            action = f"{self.base}/authenticate/{intent['id']}"
            hidden = {
                "client_secret": intent["client_secret"],
                "return_url": request.query_params.get("return_url", ""),
            }
            amount = format_amount(intent["amount"], intent["currency"]) if "amount" in intent else None
            return self.render("authenticate.html", action=action, hidden=hidden, amount=amount)

    async def intent_authenticate(self, request: Request) -> Response:
        form = await request.form()
        async with self.store.transaction() as tx:
            intent = await tx.get(request.path_params["intent_id"])
            if intent is None or intent["object"] not in ("payment_intent", "setup_intent"):
                return self.message("Not found", "No such payment.", 404)
            if not secrets.compare_digest(str(form.get("client_secret", "")), intent["client_secret"]):
                return self.message("Form expired", "This form is no longer valid.", 403)
            if intent["status"] != "requires_action":
                return self.message("Nothing to do", f"This payment is {intent['status']}.", 409)
            approved = form.get("outcome") == "approve"
            await self._finish_authentication(tx, intent, approved)
        return_url = str(form.get("return_url", ""))
        if return_url:
            return RedirectResponse(return_url, status_code=303)
        return self.message(
            "Authentication " + ("complete" if approved else "failed"),
            "You can close this page.",
            200,
            kind="notice" if approved else "error",
        )

    async def _finish_authentication(self, tx: Tx, intent: Doc, approved: bool) -> None:
        pm = await tx.load("payment_method", intent["payment_method"])
        if intent["object"] == "setup_intent":
            if approved:
                await setup.run_setup(tx, intent, pm, authenticated=True)
            else:
                await _fail_authentication(tx, intent, pm, "setup_intent.setup_failed", "last_setup_error")
            return
        if approved:
            outcome = await payments.confirm(tx, intent, pm, off_session=False, authenticated=True)
            await settle_intent(tx, intent, outcome)
        else:
            decline = await _fail_authentication(
                tx, intent, pm, "payment_intent.payment_failed", "last_payment_error"
            )
            await settle_intent(tx, intent, payments.Outcome("failed", None, decline))

    # invoices and receipts

    async def invoice_page(self, request: Request) -> Response:
        async with self.store.transaction() as tx:
            invoice = await tx.get(request.path_params["invoice_id"])
            if invoice is None or invoice["object"] != "invoice":
                return self.message("Not found", "No such invoice.", 404)
            lines = [
                {
                    "description": line["description"],
                    "amount": format_amount(line["amount"], line["currency"]),
                }
                for line in invoice["lines"]["data"]
            ]
            return self.render(
                "invoice.html",
                invoice=invoice,
                lines=lines,
                amount_due=format_amount(invoice["amount_due"], invoice["currency"]),
            )

    async def receipt_page(self, request: Request) -> Response:
        async with self.store.transaction() as tx:
            charge = await tx.get(request.path_params["charge_id"])
            if charge is None or charge["object"] != "charge":
                return self.message("Not found", "No such receipt.", 404)
            refunded = charge["amount_refunded"]
            return self.render(
                "receipt.html",
                charge=charge,
                card=charge["payment_method_details"]["card"],
                amount=format_amount(charge["amount"], charge["currency"]),
                refunded=format_amount(refunded, charge["currency"]) if refunded else None,
            )


async def _fail_authentication(tx: Tx, intent: Doc, pm: Doc, event_type: str, error_field: str) -> Decline:
    decline = Decline(
        "payment_intent_authentication_failure"
        if intent["object"] == "payment_intent"
        else "setup_intent_authentication_failure",
        None,
        AUTH_FAILED,
    )
    intent.update(status="requires_payment_method", next_action=None)
    intent[error_field] = payments.payment_error(decline, None, pm)
    await tx.put(intent)
    await tx.emit(event_type, intent)
    return decline
