"""Apply the entitlement rules to a user: set ``users.role`` and audit every grant and revoke.

Only flushes; the job runner or request commits. Staff roles (``admin``, ``coach``) are never
changed here. The previous entitlement set is read back from the audit log (each entry carries
the full set after its change), so no extra table is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.config import Settings
from billhook.customers.views import views_changed
from billhook.entitlements import repository
from billhook.entitlements.rules import (
    DEFAULT_GRACE,
    Entitlements,
    Reason,
    evaluate,
    resulting_role,
)
from billhook.errors import NotFound
from billhook.kit.clock import utcnow
from billhook.models import AuditEntry, User


def grace_period(settings: Settings) -> timedelta:
    """``BILLHOOK_PAST_DUE_GRACE_DAYS``: how long ``past_due`` keeps the plan's access."""
    return timedelta(days=settings.billhook_past_due_grace_days)


@dataclass(frozen=True, slots=True)
class EntitlementChange:
    user_id: str
    role_before: str
    role_after: str
    granted: tuple[str, ...]
    revoked: tuple[str, ...]
    result: Entitlements

    @property
    def changed(self) -> bool:
        return self.role_before != self.role_after or bool(self.granted or self.revoked)


async def entitlements_for(
    session: AsyncSession, user: User, *, now: datetime, grace: timedelta = DEFAULT_GRACE
) -> Entitlements:
    grants = await repository.grant_table(session)
    customers = await repository.customer_ids(session, user.id)
    subscriptions = await repository.subscriptions(session, user.id, customers)
    purchases = [
        p
        for p in await repository.purchases(session, user.id, customers)
        if p.product_id in grants and grants[p.product_id].one_time
    ]
    return evaluate(grants, subscriptions, purchases, now=now, grace=grace)


async def sync_entitlements(
    session: AsyncSession,
    user_id: str,
    *,
    cause_event_id: str | None = None,
    cause_event_type: str | None = None,
    now: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
) -> EntitlementChange:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    result = await entitlements_for(session, user, now=now or utcnow(), grace=grace)
    before_role = user.role
    after_role = resulting_role(before_role, result.role)
    previous = set(await repository.last_recorded_entitlements(session, user.id))
    granted = tuple(sorted(set(result.entitlements) - previous))
    revoked = tuple(sorted(previous - set(result.entitlements)))
    change = EntitlementChange(user.id, before_role, after_role, granted, revoked, result)
    audit = _Audit(session, user, result, cause_event_id, cause_event_type)
    if after_role != before_role:
        user.role = after_role
        audit.role(before_role, after_role)
    for name in granted:
        audit.entitlement("entitlements.granted", name)
    for name in revoked:
        audit.entitlement("entitlements.revoked", name)
    await session.flush()
    if change.changed:
        await views_changed(session, user.id)
    return change


class _Audit:
    def __init__(
        self,
        session: AsyncSession,
        user: User,
        result: Entitlements,
        event_id: str | None,
        event_type: str | None,
    ) -> None:
        self.session, self.user, self.result = session, user, result
        self.event_id, self.event_type = event_id, event_type

    def role(self, before: str, after: str) -> None:
        granting = after != "free"
        action = "entitlements.role_granted" if granting else "entitlements.role_revoked"
        reasons = [r for r in self.result.reasons if r.role == (after if granting else before)]
        verb = "granted" if granting else "revoked"
        role = after if granting else before
        self._write(
            action, f"role {role} {verb}: {_explain(reasons)}", {"role": {"from": before, "to": after}}
        )

    def entitlement(self, action: str, name: str) -> None:
        reasons = [r for r in self.result.reasons if name in r.entitlements]
        verb = action.rsplit(".", 1)[1]
        self._write(action, f"{name} {verb}: {_explain(reasons)}", {"entitlement": name})

    def _write(self, action: str, message: str, changes: dict[str, Any]) -> None:
        self.session.add(
            AuditEntry(
                action=action,
                actor="webhook" if self.event_id else "system",
                subject_type="user",
                subject_id=self.user.id,
                user_id=self.user.id,
                event_id=self.event_id,
                event_type=self.event_type,
                message=message[:1000],
                changes={**changes, "entitlements_after": list(self.result.entitlements)},
            )
        )


def _explain(reasons: list[Reason]) -> str:
    if not reasons:
        return "no subscription or purchase grants it"
    return "; ".join(f"{r.source} {r.source_id} ({r.product_id}): {r.detail}" for r in reasons)
