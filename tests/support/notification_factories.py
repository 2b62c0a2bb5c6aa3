"""Realistic contexts for every template, as a coaching business would send them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

PARIS = timezone(timedelta(hours=1), "CET")
SESSION_START = datetime(2026, 12, 1, 14, 30, tzinfo=PARIS)


def welcome() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "password_set_url": "https://coaching.example.com/password/set?token=st_9f8e7d6c5b4a",
        "link_valid_hours": 24,
    }


def signup_welcome() -> dict[str, Any]:
    return {"name": "Ada Lovelace"}


def trial_ending() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "plan_name": "Pro Monthly",
        "trial_end": datetime(2026, 12, 24, 9, 0, tzinfo=UTC),
        "amount": 2900,
        "currency": "usd",
    }


def password_reset() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "reset_url": "https://coaching.example.com/password/reset?token=rt_1a2b3c4d5e6f",
        "link_valid_hours": 2,
    }


def booking_confirmed() -> dict[str, Any]:
    return {
        "client_name": "Ada Lovelace",
        "coach_name": "Grace Hopper",
        "start_at": SESSION_START,
        "duration_minutes": 60,
        "booking_id": "bkg_01JD3XK2Q8",
    }


def booking_new_for_coach() -> dict[str, Any]:
    return {
        "coach_name": "Grace Hopper",
        "client_name": "Ada Lovelace",
        "client_email": "ada@example.com",
        "start_at": SESSION_START,
        "duration_minutes": 60,
        "amount": 12000,
        "currency": "eur",
        "booking_id": "bkg_01JD3XK2Q8",
        "notes": "I'd like to talk about <b>pricing</b> & positioning.",
    }


def payment_receipt() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "items": [
            {"description": "Career strategy workbook", "quantity": 1, "amount": 4900},
            {"description": "Interview practice pack", "quantity": 2, "amount": 3000},
        ],
        "amount": 7900,
        "currency": "eur",
        "paid_at": datetime(2026, 11, 24, 9, 15, tzinfo=UTC),
        "receipt_number": "pay_01JD3Y7M2C",
    }


def subscription_renewed() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "plan_name": "Pro Monthly",
        "amount": 2900,
        "currency": "usd",
        "expires_at": datetime(2026, 12, 24, tzinfo=UTC),
    }


def payment_failed() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "plan_name": "Pro Yearly",
        "amount": 350000,
        "currency": "jpy",
        "portal_url": "https://billing.stripe.com/p/session/test_YWNjdF8y",
        "next_attempt_at": datetime(2026, 11, 27, tzinfo=UTC),
    }


def subscription_canceled() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "plan_name": "Pro Monthly",
        "ended_at": datetime(2026, 12, 24, tzinfo=UTC),
    }


def refund_issued() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "amount": 12500,
        "currency": "kwd",
        "description": "Coaching session on 1 December",
        "refund_id": "re_01JD40A1B2",
        "refunded_at": datetime(2026, 11, 25, tzinfo=UTC),
    }


def dispute_opened() -> dict[str, Any]:
    return {
        "dispute_id": "dp_1QfZ3kL",
        "payment_id": "pay_01JD41ZZ9X",
        "amount": 11000,
        "currency": "eur",
        "reason": "fraudulent",
        "status": "needs_response",
    }


def dead_letter_alert() -> dict[str, Any]:
    return {
        "job_id": "job_01JD41ZZ9X",
        "job_type": "fulfilment.grant",
        "error": "ConnectError: connection refused",
    }


def test_message() -> dict[str, Any]:
    return {"transport": "smtp"}


CONTEXTS = {
    "welcome": welcome,
    "signup_welcome": signup_welcome,
    "trial_ending": trial_ending,
    "password_reset": password_reset,
    "booking_confirmed": booking_confirmed,
    "booking_new_for_coach": booking_new_for_coach,
    "payment_receipt": payment_receipt,
    "subscription_renewed": subscription_renewed,
    "payment_failed": payment_failed,
    "subscription_canceled": subscription_canceled,
    "refund_issued": refund_issued,
    "dead_letter_alert": dead_letter_alert,
    "dispute_opened": dispute_opened,
    "test_message": test_message,
}
