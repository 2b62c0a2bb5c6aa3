"""Emails (booking confirmations among them) are retried up to 5 times after the first attempt,
backing off 1, 2, 4, 8 and 16 seconds (issue #18, 8)."""

from __future__ import annotations

import random
from datetime import timedelta

from billhook.outbox import EMAIL_POLICY
from billhook.outbox.contracts import SEND_EMAIL


def test_an_email_gets_five_retries_after_its_first_attempt() -> None:
    assert EMAIL_POLICY.max_attempts == 6 and SEND_EMAIL.policy is EMAIL_POLICY


def test_the_retries_back_off_one_two_four_eight_sixteen_seconds() -> None:
    steady = random.Random(0)
    waits = [EMAIL_POLICY.delay_after(attempt, steady) for attempt in range(1, 6)]
    for wait, expected in zip(waits, (1, 2, 4, 8, 16), strict=True):
        assert abs(wait - timedelta(seconds=expected)) <= timedelta(seconds=expected) * EMAIL_POLICY.jitter
