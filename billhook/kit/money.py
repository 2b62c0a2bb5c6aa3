"""Money is an integer amount in the currency's minor unit plus an ISO 4217 code."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
# Three-decimal currencies Stripe supports (https://docs.stripe.com/currencies#three-decimal).
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def decimals(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def validate_currency(currency: str) -> str:
    code = currency.strip().lower()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"{currency!r} is not a three-letter ISO currency code")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", validate_currency(self.currency))

    def major(self) -> Decimal:
        return Decimal(self.amount).scaleb(-decimals(self.currency))

    def format(self) -> str:
        """``€12.50``, ``¥1,200``: the one formatter's output (:mod:`billhook.kit.formatting`)."""
        # Imported here: formatting reads this module's decimals() (a cycle at import time).
        from billhook.kit.formatting import format_money  # noqa: PLC0415

        return format_money(self.amount, self.currency)
