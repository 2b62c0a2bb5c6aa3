"""The ``email.send`` and ``email.dead_letter_alert`` job handlers.

``email.send`` keeps its bookkeeping on the ``email_messages`` row in short transactions of
its own, committed before the handler returns or raises: the worker rolls the job's session
back when a handler fails, and the attempt count and reason must survive that. The row is the
idempotency record: once it says ``sent`` a repeated job (a crash after sending, a replay)
sends nothing.

Errors map onto the outbox's retry policy (``EMAIL_POLICY``: the first attempt and 5 retries,
1-2-4-8-16 s apart with jitter): a :class:`TransientMailError` is re-raised for the worker to retry, a
:class:`PermanentMailError` becomes :class:`PermanentJobError` and stops at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from billhook.errors import InvalidInput
from billhook.kit.clock import utcnow
from billhook.logging import get_logger
from billhook.notifications import repository
from billhook.notifications.addresses import check_header_value, parse_recipient
from billhook.notifications.brand import Brand
from billhook.notifications.delivery import queue_email
from billhook.notifications.mailbox import TEMPLATE_HEADER
from billhook.notifications.mailer import (
    MailError,
    OutgoingEmail,
    PermanentMailError,
    SendResult,
    TransientMailError,
)
from billhook.notifications.mime import MESSAGE_ID
from billhook.notifications.repository import EmailStatus
from billhook.notifications.templates import (
    TEMPLATE_NAMES,
    EmailTemplateError,
    normalize_context,
    render_email,
)
from billhook.outbox import JobContext, PermanentJobError

log = get_logger(__name__)

# A last guard over the sender's own timeouts, so one stuck send never holds a worker slot.
SEND_DEADLINE_SECONDS = 60.0
MAX_ALERT_ERROR_LENGTH = 2000


class MailerMissing(Exception):
    """The runtime has no mailer yet: a start-up ordering problem, worth retrying."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    message_id: str
    template: str
    outgoing: OutgoingEmail


def _values_from_payload(ctx: JobContext) -> dict[str, Any]:
    """The row for a job another domain enqueued directly with ``{"template", "to", "context"}``."""
    payload = ctx.payload
    template, context = payload.get("template"), payload.get("context")
    if template not in TEMPLATE_NAMES or not isinstance(context, dict):
        raise PermanentJobError(f"email.send payload needs a known template and a context: {ctx.key}")
    try:
        recipient = parse_recipient(str(payload.get("to", "")))
        values = normalize_context(context)
    except (InvalidInput, TypeError) as exc:
        raise PermanentJobError(str(exc)) from None
    return {
        "key": ctx.key,
        "template": template,
        "to_email": recipient.formatted,
        "subject": "",
        "context": values,
    }


async def _prepare(ctx: JobContext, brand: Brand) -> _Prepared | None:
    """Load (or record) the message and render it; None when it was already sent."""
    async with ctx.runtime.session_factory() as session:
        row = await repository.get_by_key(session, ctx.key)
        if row is None:
            await repository.insert_message(session, _values_from_payload(ctx))
            row = await repository.get_by_key(session, ctx.key)
            assert row is not None
        if row.status == EmailStatus.SENT:
            return None
        try:
            rendered = render_email(row.template, row.context, brand)
            check_header_value("subject", rendered.subject)
        except (EmailTemplateError, InvalidInput) as exc:
            await repository.record_attempt(session, row.id, status=EmailStatus.FAILED, error=exc.message)
            await session.commit()
            raise PermanentJobError(exc.message) from None
        row.subject, row.text_body, row.html_body = rendered.subject, rendered.text, rendered.html
        await session.commit()
    headers = {
        MESSAGE_ID: f"<{row.id}@{brand.host}>",
        "Reply-To": brand.support_email,
        TEMPLATE_HEADER: row.template,
    }
    outgoing = OutgoingEmail(
        to=row.to_email, subject=rendered.subject, text=rendered.text, html=rendered.html, headers=headers
    )
    return _Prepared(message_id=row.id, template=row.template, outgoing=outgoing)


async def _max_attempts(ctx: JobContext) -> int:
    stored = await repository.job_max_attempts(ctx.session, ctx.job_id)
    return stored or ctx.runtime.jobs.policy_for(ctx.type).max_attempts


async def _record(ctx: JobContext, message_id: str, status: EmailStatus, **values: Any) -> None:
    async with ctx.runtime.session_factory() as session:
        await repository.record_attempt(session, message_id, status=status, **values)
        await session.commit()


async def _send(ctx: JobContext, prepared: _Prepared) -> SendResult:
    mailer = ctx.runtime.mailer
    if mailer is None:
        raise MailerMissing("no mailer is configured on the runtime")
    try:
        async with asyncio.timeout(SEND_DEADLINE_SECONDS):
            result = await mailer.send(prepared.outgoing)
    except TimeoutError:
        raise TransientMailError(f"send took longer than {SEND_DEADLINE_SECONDS:g} s") from None
    return result


async def _record_failure(ctx: JobContext, prepared: _Prepared, reason: str, *, permanent: bool) -> None:
    final = permanent or ctx.attempt >= await _max_attempts(ctx)
    await _record(ctx, prepared.message_id, EmailStatus.FAILED if final else EmailStatus.QUEUED, error=reason)
    log.warning(
        "email_send_failed", template=prepared.template, message_id=prepared.message_id,
        attempt=ctx.attempt, reason=reason, will_retry=not final,
    )  # fmt: skip


async def send_email(ctx: JobContext) -> None:
    """Handler of ``email.send``: deliver the stored message once, recording every attempt."""
    template = ctx.payload.get("template")
    if template in ctx.runtime.settings.disabled_email_templates:
        log.info("email_switched_off", template=template, setting="BILLHOOK_EMAILS_DISABLED")
        return
    prepared = await _prepare(ctx, Brand.from_settings(ctx.runtime.settings))
    if prepared is None:
        log.info("email_already_sent", job_id=ctx.job_id, key_object=ctx.payload.get("key_object"))
        return
    try:
        result = await _send(ctx, prepared)
    except (PermanentMailError, InvalidInput) as exc:  # InvalidInput: a header the last check refused
        reason = exc.reason if isinstance(exc, PermanentMailError) else exc.message
        await _record_failure(ctx, prepared, reason, permanent=True)
        raise PermanentJobError(reason) from exc
    except Exception as exc:  # transient mail errors, and anything unexpected: retried by the worker
        reason = exc.reason if isinstance(exc, MailError) else f"{type(exc).__name__}: {exc}"
        await _record_failure(ctx, prepared, reason[:1000], permanent=False)
        raise
    await _record(
        ctx, prepared.message_id, EmailStatus.SENT, provider_message_id=result.message_id, sent_at=utcnow()
    )
    log.info(
        "email_sent", template=prepared.template, message_id=prepared.message_id,
        attempt=ctx.attempt, transport=result.transport,
    )  # fmt: skip


async def _alert_recipients(ctx: JobContext, brand: Brand) -> list[str]:
    """Every active admin and ``BILLHOOK_ALERT_EMAIL`` (the on-call address), each once."""
    recipients = list(await repository.admin_emails(ctx.session))
    if brand.alert_email and brand.alert_email.lower() not in {email.lower() for email in recipients}:
        recipients.append(brand.alert_email)
    return recipients


async def dead_letter_alert(ctx: JobContext) -> None:
    """Handler of ``email.dead_letter_alert``: queue one alert email per admin.

    A dead alert email is not itself alerted by email (the mail server is the likely culprit
    and it would loop); it is logged as an error instead.
    """
    job_id, job_type = ctx.payload.get("job_id"), ctx.payload.get("job_type")
    if not isinstance(job_id, str) or not isinstance(job_type, str):
        raise PermanentJobError("email.dead_letter_alert payload needs job_id and job_type")
    error = str(ctx.payload.get("error") or "no error recorded")[:MAX_ALERT_ERROR_LENGTH]
    dead_key = str(ctx.payload.get("key") or await repository.job_key(ctx.session, job_id) or "")
    if dead_key.startswith("email:dead_letter_alert:"):
        log.error("dead_letter_alert_undeliverable", job_id=job_id, job_type=job_type, error=error)
        return
    brand = Brand.from_settings(ctx.runtime.settings)
    recipients = await _alert_recipients(ctx, brand)
    if not recipients:
        log.error("dead_letter_alert_unaddressed", job_id=job_id, job_type=job_type, error=error)
        return
    context = {"job_id": job_id, "job_type": job_type, "error": error}
    for address in recipients:
        try:
            await queue_email(
                ctx.session,
                template="dead_letter_alert",
                to=address,
                context=context,
                key_object=job_id,
                brand=brand,
            )
        except InvalidInput as exc:  # one unusable admin address must not silence the others
            log.error("dead_letter_alert_bad_recipient", job_id=job_id, reason=exc.message)
