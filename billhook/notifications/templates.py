"""Email templates: one Jinja2 base layout, an HTML and a plain-text part per message.

Rendering is strict: a variable the template uses but the context lacks raises
:class:`EmailTemplateError` (Jinja2's ``StrictUndefined``), so a half-filled email never goes
out. HTML parts are autoescaped; text parts and subjects are not (they are not HTML).

Contexts are stored with the message and in the outbox payload, so they hold JSON values
only: :func:`normalize_context` turns dates into ISO strings (and a :class:`Money` into
``{"amount", "currency"}``), and the ``money``, ``date`` and ``time`` filters turn them back
through the one formatter, :mod:`billhook.kit.formatting`.
:data:`CONTRACTS` is the contract with callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import jinja2

from billhook.errors import BillhookError
from billhook.kit import formatting
from billhook.kit.money import Money
from billhook.notifications.brand import Brand

# Template name → subject line (a Jinja2 string rendered with the same context).
SUBJECTS: dict[str, str] = {
    "welcome": "Welcome to {{ product_name }}: set your password",
    "signup_welcome": "Welcome to {{ product_name }}",
    "trial_ending": (
        "Your {{ plan_name | default(product_name, true) }} trial ends on {{ trial_end | date }}"
    ),
    "password_reset": "Reset your {{ product_name }} password",
    "booking_confirmed": (
        "Your session with {{ coach_name | default('your coach', true) }}"
        " on {{ start_at | date }} is confirmed"
    ),
    "booking_new_for_coach": (
        "New booking: {{ client_name | default(none) or client_email | default('a client', true) }}"
        " on {{ start_at | date }}"
    ),
    "payment_receipt": "Your receipt from {{ product_name }} ({{ amount | money(currency) }})",
    "subscription_renewed": "Your {{ plan_name | default(product_name, true) }} subscription has renewed",
    "payment_failed": "Action needed: your {{ plan_name | default(product_name, true) }} payment failed",
    "subscription_canceled": "Your {{ plan_name | default(product_name, true) }} subscription is canceled",
    "refund_issued": "Refund issued: {{ amount | money(currency) }}",
    "dead_letter_alert": "[{{ product_name }}] job {{ job_type }} failed for good",
    "dispute_opened": "[{{ product_name }}] payment disputed: {{ amount | money(currency) }}",
    "test_message": "Test message from {{ product_name }}",
}


@dataclass(frozen=True, slots=True)
class TemplateContract:
    """What a caller must put in the context (``required``) and may (``optional``).

    A required key must be present (its value may be None where the template says so: names,
    ``expires_at``, ``ended_at``); a missing one fails the render. Optional keys refine the
    message (a plan name, a portal link) and have a sensible fallback.
    """

    required: frozenset[str]
    optional: frozenset[str] = frozenset()


def _contract(required: str, optional: str = "") -> TemplateContract:
    return TemplateContract(frozenset(required.split()), frozenset(optional.split()))


# The contract with callers. Amounts are integers in the currency's minor unit with
# ``currency`` beside them, as the models store them; dates are datetimes or ISO strings.
# ``product_name``, ``support_email`` and ``base_url`` always come from settings.
CONTRACTS: dict[str, TemplateContract] = {
    "welcome": _contract("password_set_url link_valid_hours", "name"),
    "signup_welcome": _contract("", "name"),
    "trial_ending": _contract("trial_end", "name plan_name amount currency"),
    "password_reset": _contract("reset_url link_valid_hours", "name"),
    "booking_confirmed": _contract("start_at duration_minutes booking_id", "client_name coach_name"),
    "booking_new_for_coach": _contract(
        "client_name start_at duration_minutes amount currency booking_id", "coach_name client_email notes"
    ),
    "payment_receipt": _contract(
        "amount currency", "name items paid_at receipt_number description invoice_url"
    ),
    "subscription_renewed": _contract("amount currency expires_at", "name plan_name"),
    "payment_failed": _contract("amount currency", "name plan_name reason portal_url next_attempt_at"),
    "subscription_canceled": _contract("ended_at", "name plan_name"),
    "refund_issued": _contract("amount currency", "name description refund_id refunded_at"),
    "dead_letter_alert": _contract("job_id job_type error"),
    "dispute_opened": _contract("dispute_id amount currency status", "payment_id reason"),
    "test_message": _contract("transport"),
}
TEMPLATE_NAMES = frozenset(SUBJECTS)
BRAND_VARIABLES = frozenset({"product_name", "support_email", "base_url"})


class EmailTemplateError(BillhookError):
    """A template is unknown or its context is missing a variable: a programming error."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _as_money(value: Any, currency: str | None) -> Money:
    if isinstance(value, Mapping):
        value = Money(int(value["amount"]), str(value["currency"]))
    if isinstance(value, Money):
        if currency is not None and value.currency != currency.lower():
            raise ValueError(f"amount in {value.currency} shown as {currency}")
        return value
    if isinstance(value, int) and not isinstance(value, bool) and currency:
        return Money(value, currency)
    raise TypeError(f"cannot show {value!r} as money (an integer amount needs its currency)")


def _as_datetime(value: Any) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise TypeError(f"cannot show {type(value).__name__} as a date")


def format_money(value: Any, currency: str | None = None) -> str:
    """``€12.50``, ``¥1,200`` (:func:`billhook.kit.formatting.format_money`).

    ``value`` is an integer in the minor unit (with ``currency``), a Money or its stored dict.
    """
    money = _as_money(value, currency)
    return formatting.format_money(money.amount, money.currency)


def format_date(value: Any) -> str:
    """``Tuesday, December 1, 2026``: the date the value carries (an email is read in full)."""
    return formatting.format_date(_as_datetime(value), "full")


def format_time(value: Any) -> str:
    """``14:30 UTC+01:00``: the wall-clock time at the offset the datetime carries.

    Stored contexts are ISO strings, which keep the offset but not a zone's name.
    """
    moment = _as_datetime(value)
    if not isinstance(moment, datetime):
        raise TypeError("a date has no time of day")
    return formatting.format_time(moment)


@cache
def email_environment() -> jinja2.Environment:
    """The one Jinja2 environment for email templates: strict, HTML parts autoescaped."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("billhook.notifications", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        money=format_money, date=format_date, time=format_time, datetime=formatting.format_datetime
    )
    return environment


def normalize_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy of ``context`` (Money, dates and Decimals converted)."""
    return {str(key): _normalize(value) for key, value in context.items()}


def _normalize(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amount": value.amount, "currency": value.currency}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return normalize_context(value)
    if isinstance(value, list | tuple):
        return [_normalize(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"email context values must be JSON-like, not {type(value).__name__}")


def render_email(template: str, context: Mapping[str, Any], brand: Brand) -> RenderedEmail:
    """Render subject, text and HTML; raise :class:`EmailTemplateError` on any gap."""
    if template not in SUBJECTS:
        raise EmailTemplateError(f"unknown email template {template!r}")
    missing = sorted(CONTRACTS[template].required - set(context))
    if missing:
        raise EmailTemplateError(f"email template {template!r} needs {', '.join(missing)}")
    variables = {
        "product_name": brand.product_name,
        "support_email": brand.support_email,
        "base_url": brand.base_url,
        **context,
    }
    environment = email_environment()
    try:
        subject = environment.from_string(SUBJECTS[template]).render(variables)
        text = environment.get_template(f"{template}.txt").render(variables)
        html = environment.get_template(f"{template}.html").render(variables)
    except jinja2.UndefinedError as exc:
        raise EmailTemplateError(f"email template {template!r}: {exc.message}") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise EmailTemplateError(f"email template {template!r}: {exc}") from None
    return RenderedEmail(subject=subject.strip(), text=text, html=html)
