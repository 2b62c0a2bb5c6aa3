"""A new dispute alerts every admin and BILLHOOK_ALERT_EMAIL, each once, even with no admin yet."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.models import Dispute, OutboxJob, User
from billhook.payments.actions import alert_admins_of_dispute

ONCALL = "oncall@coaching.example.com"


async def _alerted(session: AsyncSession) -> list[str]:
    jobs = await session.scalars(select(OutboxJob).where(OutboxJob.key.like("email:dispute_opened:%")))
    return sorted(job.payload["to"] for job in jobs)


async def _dispute(session: AsyncSession) -> Dispute:
    dispute = Dispute(stripe_id="dp_alert", amount=11000, currency="eur", status="needs_response", raw={})
    session.add(dispute)
    await session.flush()
    return dispute


async def test_with_no_admin_the_alert_address_is_told(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        queued = await alert_admins_of_dispute(session, await _dispute(session), None, alert_email=ONCALL)
        assert (queued, await _alerted(session)) == (1, [ONCALL])


async def test_admins_and_the_alert_address_are_each_told_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        session.add_all(
            [User(email="ops@coaching.example.com", role="admin"), User(email=ONCALL, role="admin")]
        )
        dispute = await _dispute(session)
        first = await alert_admins_of_dispute(session, dispute, None, alert_email=ONCALL)
        again = await alert_admins_of_dispute(session, dispute, None, alert_email=ONCALL)
        assert (first, again) == (2, 0)
        assert await _alerted(session) == [ONCALL, "ops@coaching.example.com"]
