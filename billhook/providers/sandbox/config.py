"""Settings of one sandbox instance, injected through ``Sandbox(config)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

API_VERSION = "2026-10-28.endive"
DAY = 86_400


@dataclass
class ChaosSettings:
    """Ways to misbehave when delivering webhooks, so that receivers can prove they cope.

    ``drop`` is the fraction of deliveries never sent (the events stay in ``/v1/events``);
    ``delay`` holds every delivery back that many seconds; ``duplicate`` sends each one twice;
    ``out_of_order`` shuffles each batch of due deliveries.
    """

    out_of_order: bool = False
    duplicate: bool = False
    delay: float = 0.0
    drop: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "out_of_order": self.out_of_order,
            "duplicate": self.duplicate,
            "delay": self.delay,
            "drop": self.drop,
        }


@dataclass
class SandboxConfig:
    """Everything a sandbox needs; nothing here is read from the environment.

    ``payment_retry_days`` are the gaps between automatic attempts at a failed renewal invoice:
    after the first failure the next attempt comes ``payment_retry_days[0]`` days later, and so on;
    when they run out the subscription becomes ``final_failure_status``.
    ``webhook_retry_seconds`` are the real-time gaps between attempts at a failing webhook delivery
    (Stripe retries for three days; tests use fractions of a second).
    """

    database_url: str = "sqlite+aiosqlite:///./billhook-sandbox.db"
    public_url: str = "http://127.0.0.1:8000/sandbox"
    test_key_prefix: str = "sk_test_"
    payment_retry_days: tuple[int, ...] = (3, 5, 7)
    final_failure_status: Literal["canceled", "unpaid"] = "canceled"
    webhook_retry_seconds: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0, 21600.0)
    webhook_timeout: float = 10.0
    delivery_poll_seconds: float = 0.5
    # How often what fell due as real time passed is acted on (scheduler.settle); 0: only when
    # the clock is advanced or an object is read.
    settle_seconds: float = 5.0
    event_retention_days: int = 30
    chaos: ChaosSettings = field(default_factory=ChaosSettings)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")
