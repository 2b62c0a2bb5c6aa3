"""Domain jobs: register a newly bought domain, renew one on a ``renewal`` order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.fulfilment.records import ItemWork, Target
from billhook.fulfilment.registrars import DomainRegistrar, RegistrarRefused
from billhook.models import DomainRegistration
from billhook.outbox import JobContext


async def find_registration(session: AsyncSession, domain: str) -> DomainRegistration | None:
    statement = select(DomainRegistration).where(DomainRegistration.domain == domain)
    return (await session.execute(statement)).scalars().first()


def _domain_and_years(target: Target) -> tuple[str, int]:
    details = target.item.details
    return str(details["domain"]).strip().lower(), int(details.get("years", target.item.quantity))


def register_domain(registrar: DomainRegistrar) -> ItemWork:
    async def work(ctx: JobContext, target: Target) -> dict[str, Any]:
        domain, years = _domain_and_years(target)
        existing = await find_registration(ctx.session, domain)
        if existing is not None:
            raise RegistrarRefused(f"{domain} is already registered here ({existing.id})")
        contacts = dict(target.item.details.get("contacts") or {})
        result = await registrar.register(
            domain=domain, years=years, contacts=contacts, idempotency_key=ctx.key
        )
        registration = DomainRegistration(
            domain=domain, user_id=target.order.user_id, registrar=registrar.name,
            registrar_reference=result.reference, registered_at=ctx.runtime.clock.now(),
            expires_at=result.expires_at, contacts=contacts,
        )  # fmt: skip
        ctx.session.add(registration)
        await ctx.session.flush()
        return {
            "domain": domain,
            "registration_id": registration.id,
            "expires_at": result.expires_at.isoformat(),
        }

    return work


def renew_domain(registrar: DomainRegistrar) -> ItemWork:
    async def work(ctx: JobContext, target: Target) -> dict[str, Any]:
        domain, years = _domain_and_years(target)
        registration = await find_registration(ctx.session, domain)
        if registration is None:
            raise RegistrarRefused(f"{domain} cannot be renewed: it was never registered here")
        previous = registration.expires_at
        result = await registrar.renew(
            domain=domain, years=years, current_expiry=previous, idempotency_key=ctx.key
        )
        registration.expires_at = result.expires_at
        registration.renewals += 1
        await ctx.session.flush()
        return {
            "domain": domain,
            "previous_expiry": previous.isoformat(),
            "expires_at": result.expires_at.isoformat(),
        }

    return work
