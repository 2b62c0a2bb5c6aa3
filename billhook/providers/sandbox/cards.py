"""Stripe's test cards and what each one does (https://docs.stripe.com/testing).

Only the behaviour is stored with a PaymentMethod, never the number. One deliberate difference
from Stripe: ``4000 0000 0000 0341`` succeeds on the first, on-session payment (the hosted
checkout) and fails every later off-session charge, so "renewal fails" can be tried end to end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str | None
    message: str


@dataclass(frozen=True)
class TestCard:
    brand: str
    behaviour: str  # succeed, decline, authenticate, fail_off_session, dispute, always_authenticate
    decline: Decline | None = None


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT_FUNDS = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")
EXPIRED = Decline("expired_card", None, "Your card has expired.")
INCORRECT_CVC = Decline("incorrect_cvc", None, "Your card's security code is incorrect.")
INCORRECT_NUMBER = Decline("incorrect_number", None, "Your card number is incorrect.")

CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard("visa", "succeed"),
    "4000056655665556": TestCard("visa", "succeed"),
    "5555555555554444": TestCard("mastercard", "succeed"),
    "378282246310005": TestCard("amex", "succeed"),
    "4000000000000002": TestCard("visa", "decline", GENERIC_DECLINE),
    "4000000000009995": TestCard("visa", "decline", INSUFFICIENT_FUNDS),
    "4000000000000069": TestCard("visa", "decline", EXPIRED),
    "4000000000000127": TestCard("visa", "decline", INCORRECT_CVC),
    "4000002500003155": TestCard("visa", "authenticate"),
    "4000002760003184": TestCard("visa", "always_authenticate"),
    "4000000000000341": TestCard("visa", "fail_off_session", GENERIC_DECLINE),
    "4000000000000259": TestCard("visa", "dispute"),
}

# Stripe's ready-made PaymentMethod and token ids (https://docs.stripe.com/testing#cards).
MAGIC_IDS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000002500003155",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_createDispute": "4000000000000259",
    "tok_visa": "4242424242424242",
    "tok_mastercard": "5555555555554444",
    "tok_chargeDeclined": "4000000000000002",
    "tok_chargeCustomerFail": "4000000000000341",
    "tok_createDispute": "4000000000000259",
}


def normalise(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def identify(number: str) -> TestCard | None:
    """The test card for a number; any other Luhn-valid number behaves like 4242. ``None``: invalid."""
    digits = normalise(number)
    if digits in CARDS:
        return CARDS[digits]
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(digits[0], "unknown")
        return TestCard(brand, "succeed")
    return None


def fingerprint(number: str) -> str:
    return hashlib.sha256(("billhook-sandbox:" + normalise(number)).encode()).hexdigest()[:16]
