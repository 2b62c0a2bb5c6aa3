"""The console's actions, each composed of the domain service that the API or CLI already uses.

Refunds and cancellations go through :mod:`billhook.payments.refunds` and
:mod:`billhook.subscriptions.management`, so their rules and errors are exactly the API's; a dead
job is retried with :func:`billhook.outbox.dead_letters.retry_dead_job` (``billhook jobs
retry``); events are replayed with :func:`billhook.inbox.replay.replay` (``billhook events
replay``) and reconciled with :func:`billhook.inbox.reconcile.reconcile`.

Every action is checked whole before anything changes (one unknown or not-dead id in a batch
refuses the batch), and each writes an audit entry whose actor is ``admin:<user id>``.
Services only flush: the request commits, or rolls back on any error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import get_args

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.admin import repository
from billhook.audit import Cause, record
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.inbox.reconcile import ReconcileReport, reconcile
from billhook.inbox.replay import replay
from billhook.inbox.worker import InboxWorker
from billhook.kit.money import decimals
from billhook.models import EmailMessage, InboxEvent, JobStatus, OutboxJob, Payment, Subscription, User
from billhook.notifications.delivery import EMAIL_SEND
from billhook.notifications.repository import EmailStatus
from billhook.outbox import EMAIL_POLICY, enqueue
from billhook.outbox.dead_letters import retry_dead_job
from billhook.payments.refunds import RefundRequest, RequestedRefund, request_refund
from billhook.providers.actions import ProviderActions, RefundReason
from billhook.runtime import Runtime
from billhook.subscriptions.management import ManagementDeps, cancel_at_period_end, cancel_now

REFUND_REASONS: tuple[str, ...] = get_args(RefundReason)
MAX_RECONCILE_HOURS = 24 * 30


@dataclass(frozen=True, slots=True)
class Admin:
    """The signed-in operator an action is done by."""

    user: User

    @property
    def actor(self) -> str:
        return f"admin:{self.user.id}"

    @property
    def cause(self) -> Cause:
        return Cause(actor=self.actor)


# -- refunds and cancellations ----------------------------------------------------------------------


def minor_amount(text: str, currency: str) -> int | None:
    """``"12.50"`` in usd is 1250; blank is None (the whole remainder). More decimals than the
    currency has (``"1.5"`` yen) are refused rather than rounded."""
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput(f"amount: {text[:40]!r} is not an amount", field="amount") from None
    if not value.is_finite():
        raise InvalidInput(f"amount: {text[:40]!r} is not an amount", field="amount")
    minor = value.scaleb(decimals(currency))
    if minor != minor.to_integral_value():
        raise InvalidInput(
            f"amount: {currency.upper()} has {decimals(currency)} decimal places", field="amount"
        )
    if minor <= 0:
        raise InvalidInput("amount: must be more than zero", field="amount")
    return int(minor)


def refund_reason(text: str) -> RefundReason:
    for reason in get_args(RefundReason):
        if text == reason:
            chosen: RefundReason = reason
            return chosen
    raise InvalidInput(f"reason: choose one of {', '.join(REFUND_REASONS)}", field="reason")


async def refund_payment(
    session: AsyncSession,
    actions: ProviderActions,
    admin: Admin,
    *,
    payment_id: str,
    amount: str,
    reason: str,
    now: datetime,
) -> RequestedRefund:
    """Refund through the API's own service: the same 404/409/422 and the same idempotency window."""
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    request = RefundRequest(
        payment.id, minor_amount(amount, payment.currency), refund_reason(reason), None, admin.actor
    )
    return await request_refund(session, actions, request, now=now)


async def cancel_subscription(
    deps: ManagementDeps, admin: Admin, *, subscription_id: str, at_period_end: bool, reason: str | None
) -> Subscription:
    """Cancel on the owner's behalf through the API's service (its 404 for an ended subscription,
    its idempotency keys, its cancellation record); the audit entry names the admin."""
    row = await repository.subscription(deps.session, subscription_id)
    if row is None:
        raise NotFound("no such subscription")
    owner = await deps.session.get(User, row.user_id) if row.user_id else None
    if owner is None:
        raise Conflict(
            f"subscription {row.stripe_id} belongs to no Billhook user; cancel it at the provider instead"
        )
    cancel = cancel_at_period_end if at_period_end else cancel_now
    return await cancel(deps, owner, reason=reason, requested_by=admin.actor, subscription_id=row.stripe_id)


# -- operations -------------------------------------------------------------------------------------


async def retry_jobs(
    session: AsyncSession, admin: Admin, job_ids: list[str], now: datetime
) -> list[OutboxJob]:
    """Queue dead jobs again; all or none (an unknown or not-dead job refuses the whole batch)."""
    jobs = {job.id: job for job in await repository.outbox_jobs(session, job_ids)}
    missing = [job_id for job_id in job_ids if job_id not in jobs]
    if missing:
        raise NotFound(f"no job {missing[0]!r}")
    alive = [job for job in jobs.values() if job.status != JobStatus.DEAD]
    if alive:
        raise Conflict(f"job {alive[0].id} is {alive[0].state(now)}; only dead jobs can be retried")
    retried = []
    for job_id in job_ids:
        job = await retry_dead_job(session, job_id, now)
        await record(
            session, admin.cause, action="outbox.job_retried", subject_type="outbox_job", subject_id=job.id,
            changes={"status": ["dead", job.status], "type": job.type}, message=f"retried {job.type}",
        )  # fmt: skip
        retried.append(job)
    return retried


async def resend_emails(
    session: AsyncSession, admin: Admin, message_ids: list[str], now: datetime
) -> list[EmailMessage]:
    """Send failed emails again through their own ``email.send`` job (same key: never twice once sent)."""
    messages = {message.id: message for message in await repository.email_messages(session, message_ids)}
    missing = [message_id for message_id in message_ids if message_id not in messages]
    if missing:
        raise NotFound(f"no email {missing[0]!r}")
    not_failed = [message for message in messages.values() if message.status != EmailStatus.FAILED]
    if not_failed:
        message = not_failed[0]
        raise Conflict(f"email {message.id} is {message.status}; only failed emails can be sent again")
    jobs = {
        message_id: await repository.job_by_key(session, messages[message_id].key)
        for message_id in message_ids
    }
    busy = [job for job in jobs.values() if job is not None and job.status != JobStatus.DEAD]
    if busy:
        raise Conflict(f"email job {busy[0].id} is {busy[0].state(now)}; it will send (or fail) on its own")
    for message_id in message_ids:
        message, job = messages[message_id], jobs[message_id]
        if job is None:  # the row was recorded but its job is gone (pruned): queue it afresh
            payload = {"template": message.template, "to": message.to_email, "context": message.context}
            await enqueue(
                session, EMAIL_SEND, payload, key=message.key, max_attempts=EMAIL_POLICY.max_attempts
            )
        else:
            await retry_dead_job(session, job.id, now)
        message.status = EmailStatus.QUEUED.value
        await record(
            session, admin.cause, action="email.resend_requested", subject_type="email",
            subject_id=message.id,
            changes={"status": ["failed", "queued"], "template": message.template},
            message=f"resend of {message.template} requested",
        )  # fmt: skip
    await session.flush()
    return [messages[message_id] for message_id in message_ids]


async def events_to_replay(session: AsyncSession, ids: list[str]) -> list[InboxEvent]:
    """The inbox rows to replay, all found or refused (by ``ie_…`` or ``evt_…`` id)."""
    rows = await repository.inbox_events(session, ids)
    known = {row.id for row in rows} | {row.event_id for row in rows}
    missing = [ident for ident in ids if ident not in known]
    if missing:
        raise NotFound(f"no inbox event {missing[0]!r}")
    return rows


async def replay_events(
    session: AsyncSession, runtime: Runtime, admin: Admin, ids: list[str]
) -> list[tuple[InboxEvent, str]]:
    """Apply stored events again now (safe: handlers apply the provider's current state).

    The replay runs in the inbox's own transactions, like ``billhook events replay``; the audit
    entries go in the caller's.
    """
    rows = await events_to_replay(session, ids)
    worker = InboxWorker(runtime)
    outcomes = []
    for row in rows:
        outcome = await replay(worker, row.id)
        await record(
            session, admin.cause, action="inbox.event_replayed", subject_type="inbox_event",
            subject_id=row.event_id, changes={"outcome": outcome, "type": row.type},
            message=f"replayed {row.type}: {outcome}",
        )  # fmt: skip
        outcomes.append((row, outcome))
    return outcomes


def reconcile_hours(text: str) -> int:
    try:
        hours = int(text.strip())
    except ValueError:
        raise InvalidInput("hours: a whole number of hours", field="hours") from None
    if not 1 <= hours <= MAX_RECONCILE_HOURS:
        raise InvalidInput(f"hours: between 1 and {MAX_RECONCILE_HOURS}", field="hours")
    return hours


async def run_reconcile(session: AsyncSession, runtime: Runtime, admin: Admin, hours: int) -> ReconcileReport:
    """Store every provider event of the last ``hours`` that the inbox lacks (the workers apply them)."""
    report = await reconcile(runtime, timedelta(hours=hours))
    await record(
        session, admin.cause, action="inbox.reconciled", subject_type="inbox", subject_id="reconcile",
        changes={"hours": hours, "seen": report.seen, "stored": report.stored, "pages": report.pages},
        message=f"reconciled the last {hours} h: {report.stored} missing events stored",
    )  # fmt: skip
    return report
