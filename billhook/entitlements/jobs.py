"""The ``entitlements.sync`` outbox job: payload ``{"user_id"}`` or ``{"customer_id"}``.

Enqueued by whatever changed the mirror (a webhook handler, a checkout return), in the same
transaction, with the causing event in ``cause_event_id``/``cause_event_type`` when there is one.
"""

from __future__ import annotations

from billhook.entitlements import repository
from billhook.entitlements.service import grace_period, sync_entitlements
from billhook.errors import NotFound
from billhook.logging import get_logger
from billhook.outbox import JobContext, PermanentJobError
from billhook.outbox.contracts import SYNC_ENTITLEMENTS

SYNC_JOB = SYNC_ENTITLEMENTS.name

log = get_logger(__name__)


async def sync_job(ctx: JobContext) -> None:
    payload = ctx.payload
    user_id = payload.get("user_id")
    if user_id is None and payload.get("customer_id"):
        user_id = await repository.user_for_customer(ctx.session, str(payload["customer_id"]))
        if user_id is None:
            # A customer with no user yet: the link (checkout by email) enqueues its own sync.
            log.info("entitlements_sync_skipped", customer_id=payload["customer_id"])
            return
    if not user_id:
        raise PermanentJobError("entitlements.sync needs a user_id or customer_id")
    try:
        change = await sync_entitlements(
            ctx.session,
            str(user_id),
            cause_event_id=payload.get("cause_event_id"),
            cause_event_type=payload.get("cause_event_type"),
            now=ctx.runtime.clock.now(),
            grace=grace_period(ctx.runtime.settings),
        )
    except NotFound as exc:  # the user was deleted: retrying cannot bring them back
        raise PermanentJobError(exc.message) from None
    if change.changed:
        log.info(
            "entitlements_synced",
            user_id=change.user_id,
            role=change.role_after,
            granted=list(change.granted),
            revoked=list(change.revoked),
        )
