"""Typed job contracts: one definition per job type, shared by the producers and the worker.

A :class:`JobContract` names a job type, the pydantic model of its payload and its retry policy.
Producers enqueue through it (``await SEND_EMAIL.enqueue(session, SendEmail(...), key=...)``),
so a payload is validated when the job is written, in the producer's transaction, not when a
worker dead-letters it days later; the consuming domain registers its handler with the same
object (``registry.register(SEND_EMAIL, send_email)``), and the worker checks every stored
payload against the model before the handler runs (a row written by an older release that no
longer fits is buried at once, with the reason).

The contracts of jobs that cross domains live here, where every domain may import them; the job
types internal to one domain (fulfilment's per-item work) stay with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.outbox.enqueue import enqueue
from billhook.outbox.jobs import EMAIL_POLICY, FULFILMENT_POLICY, PermanentJobError, RetryPolicy

P = TypeVar("P", bound=BaseModel)


class JobPayload(BaseModel):
    """A job's payload: JSON values only, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class JobContract(Generic[P]):
    name: str
    payload: type[P]
    policy: RetryPolicy

    async def enqueue(
        self, session: AsyncSession, payload: P, *, key: str, run_after: datetime | None = None
    ) -> bool:
        """Validate ``payload`` and add the job to the caller's transaction (False: key taken)."""
        checked = self.payload.model_validate(payload.model_dump())
        return await enqueue(
            session,
            self.name,
            checked.model_dump(mode="json"),
            key=key,
            run_after=run_after,
            max_attempts=self.policy.max_attempts,
        )

    def read(self, payload: dict[str, Any]) -> P:
        """The stored payload as the model; one that does not fit can never succeed."""
        try:
            return self.payload.model_validate(payload)
        except ValidationError as exc:
            raise PermanentJobError(f"{self.name} payload does not fit its contract: {exc}") from None


# -- email --------------------------------------------------------------------------------------


class SendEmail(JobPayload):
    """One email of a known template; ``key_object`` names the object that causes it."""

    template: str
    to: str
    context: dict[str, Any]
    key_object: str | None = None


class DeadLetterAlert(JobPayload):
    job_id: str
    job_type: str
    key: str | None = None
    attempts: int | None = None
    error: str | None = None


SEND_EMAIL = JobContract("email.send", SendEmail, EMAIL_POLICY)
DEAD_LETTER_ALERT = JobContract("email.dead_letter_alert", DeadLetterAlert, EMAIL_POLICY)


def email_key(template: str, recipient: str, key_object: str) -> str:
    """``email:<template>:<recipient address>:<causing object id>`` — one email per triple."""
    return f"email:{template}:{recipient}:{key_object}"


# -- the mirror's requests to other domains -------------------------------------------------------


class SyncEntitlements(JobPayload):
    """Recompute a user's entitlements (from a subscription's new state, or an order)."""

    user_id: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    status: str | None = None
    cause_event_id: str | None = None
    cause_event_type: str | None = None


class OrderLine(JobPayload):
    price_id: str | None = None
    product_id: str | None = None
    quantity: int | None = None
    amount_total: int | None = None


class RecordPaid(JobPayload):
    """A payment to turn into an order: a paid invoice, checkout session or payment intent."""

    source: Literal["invoice", "checkout", "payment_intent"]
    customer_id: str | None = None
    payment_intent_id: str | None = None
    currency: str | None = None
    invoice_id: str | None = None
    subscription_id: str | None = None
    billing_reason: str | None = None
    amount_paid: int | None = None
    checkout_session_id: str | None = None
    client_reference_id: str | None = None
    amount_total: int | None = None
    line_items: list[OrderLine] | None = None
    amount: int | None = None
    metadata: dict[str, str] | None = None


class RecordRefunded(JobPayload):
    refund_id: str
    payment_intent_id: str | None = None
    charge_id: str | None = None
    amount_refunded: int | None = None  # the charge's running total
    reason: str | None = None


class ProvisionCustomer(JobPayload):
    """A completed checkout whose customer has no user: create the account (once)."""

    customer_id: str
    email: str | None = None
    event_id: str | None = None


SYNC_ENTITLEMENTS = JobContract(
    "entitlements.sync", SyncEntitlements, RetryPolicy(max_attempts=8, base_delay=timedelta(seconds=1))
)
RECORD_PAID = JobContract("order.record_paid", RecordPaid, FULFILMENT_POLICY)
RECORD_REFUNDED = JobContract("order.record_refunded", RecordRefunded, FULFILMENT_POLICY)
PROVISION_CUSTOMER = JobContract("accounts.provision_customer", ProvisionCustomer, FULFILMENT_POLICY)


# -- cached views -------------------------------------------------------------------------------


class InvalidateSubscriptionCache(JobPayload):
    """Forget one user's cached subscription overview once the change that staled it commits."""

    user_id: str


class InvalidatePaymentStats(JobPayload):
    """Bump the generation of the payment statistics' cache."""


CACHE_POLICY = RetryPolicy(max_attempts=3)
INVALIDATE_SUBSCRIPTION_CACHE = JobContract(
    "subscriptions.invalidate_cache", InvalidateSubscriptionCache, CACHE_POLICY
)
INVALIDATE_PAYMENT_STATS = JobContract("payments.invalidate_stats", InvalidatePaymentStats, CACHE_POLICY)


# -- outgoing webhooks ----------------------------------------------------------------------------


class PublishWebhook(JobPayload):
    """Fan one outgoing event out to the endpoints subscribed to its type."""

    event_type: str
    event_key: str
    data: dict[str, Any]


PUBLISH_WEBHOOK = JobContract("webhook.publish", PublishWebhook, FULFILMENT_POLICY)

CONTRACTS: tuple[JobContract[Any], ...] = (
    SEND_EMAIL,
    DEAD_LETTER_ALERT,
    SYNC_ENTITLEMENTS,
    RECORD_PAID,
    RECORD_REFUNDED,
    PROVISION_CUSTOMER,
    INVALIDATE_SUBSCRIPTION_CACHE,
    INVALIDATE_PAYMENT_STATS,
    PUBLISH_WEBHOOK,
)
