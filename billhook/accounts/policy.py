"""Account knobs. Read from settings when the lead adds the fields, with these defaults meanwhile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from billhook.config import Settings


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Failed logins per account and per client address, counted for ``window`` from the first.

    Past ``*_slow_after`` failures each further failure makes the next attempt wait, doubling
    from ``base_delay_seconds`` up to ``max_delay_seconds``; never a lock (see ``throttle``).
    """

    window: timedelta = timedelta(minutes=15)
    account_slow_after: int = 3
    address_slow_after: int = 10
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    session_ttl: timedelta = timedelta(days=7)
    reset_ttl: timedelta = timedelta(hours=1)
    # Reset emails per address per hour; more requests still answer 202 but send nothing.
    reset_emails_per_hour: int = 5
    throttle: ThrottlePolicy = ThrottlePolicy()


def account_policy(settings: Settings) -> AccountPolicy:
    """``BILLHOOK_SESSION_TTL_HOURS`` and ``BILLHOOK_PASSWORD_RESET_TTL_MINUTES``."""
    return AccountPolicy(
        session_ttl=timedelta(hours=settings.billhook_session_ttl_hours),
        reset_ttl=timedelta(minutes=settings.billhook_password_reset_ttl_minutes),
    )
