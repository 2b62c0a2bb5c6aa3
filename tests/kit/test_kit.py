from __future__ import annotations

from datetime import timedelta

import pytest

from billhook.kit import ids
from billhook.kit.clock import FrozenClock
from billhook.kit.ids import new_id
from billhook.kit.money import Money


def test_ids_carry_their_prefix_and_are_unique() -> None:
    ids = {new_id("pay") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("pay_") and len(i) == 30 for i in ids)


def test_ids_made_later_sort_later() -> None:
    clock_ordered = [new_id("x") for _ in range(3)]
    assert clock_ordered[0][:12] <= clock_ordered[-1][:12]


def test_ids_are_the_time_then_the_random_bits_in_crockford_base32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_764_000_000_123 * 1_000_000 + 999)
    monkeypatch.setattr(ids.secrets, "randbits", lambda bits: 0x0123456789ABCDEF0123)
    assert new_id("ie") == "ie_01KAV9FT3V04HMASW9NF6YY093"
    monkeypatch.setattr(ids.secrets, "randbits", lambda bits: 2**bits - 1)
    assert new_id("ie").endswith("_01KAV9FT3V" + "Z" * 16)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1250, "eur", "€12.50"),
        (1200, "JPY", "¥1,200"),
        (1500, "kwd", "KWD1.500"),
        (5, "usd", "$0.05"),
    ],
)
def test_money_is_shown_with_the_currency_decimals(amount: int, currency: str, shown: str) -> None:
    assert Money(amount, currency).format() == shown


def test_money_refuses_a_bad_currency() -> None:
    with pytest.raises(ValueError, match="ISO currency"):
        Money(100, "euro")


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock()
    start = clock.now()
    clock.advance(timedelta(days=3))
    assert clock.now() - start == timedelta(days=3)
