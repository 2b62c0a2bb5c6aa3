"""Fulfilment records and the wrapper that makes every order-item job run its work once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import insert_ignore
from billhook.kit.ids import new_id
from billhook.models import FulfilmentRecord, Order, OrderItem
from billhook.outbox import JobContext, JobHandler, PermanentJobError


@dataclass(frozen=True, slots=True)
class Target:
    """What a fulfilment job works on, re-read from the database when it runs."""

    order: Order
    item: OrderItem
    reference: str  # the invoice or payment that paid for it


ItemWork = Callable[[JobContext, Target], Awaitable[dict[str, Any]]]


async def find_record(
    session: AsyncSession, job_type: str, order_item_id: str, reference: str
) -> FulfilmentRecord | None:
    statement = select(FulfilmentRecord).where(
        FulfilmentRecord.job_type == job_type,
        FulfilmentRecord.order_item_id == order_item_id,
        FulfilmentRecord.reference == reference,
    )
    return (await session.execute(statement)).scalars().first()


async def add_record(
    session: AsyncSession, job_type: str, target: Target, outcome: dict[str, Any], now: datetime
) -> bool:
    table: Table = FulfilmentRecord.__table__  # type: ignore[assignment]
    values = {
        "id": new_id("ful"),
        "job_type": job_type,
        "order_item_id": target.item.id,
        "reference": target.reference,
        "outcome": outcome,
        "created_at": now,
        "updated_at": now,
    }
    return await insert_ignore(session, table, values, ["job_type", "order_item_id", "reference"])


async def load_target(ctx: JobContext) -> Target:
    order = await ctx.session.get(Order, ctx.payload["order_id"])
    item = await ctx.session.get(OrderItem, ctx.payload["order_item_id"])
    if order is None or item is None or item.order_id != order.id:
        raise PermanentJobError(f"order item {ctx.payload.get('order_item_id')!r} no longer exists")
    return Target(order=order, item=item, reference=str(ctx.payload["reference"]))


def once_per_item(job_type: str, work: ItemWork) -> JobHandler:
    """Wrap ``work`` so it runs at most once per (job type, order item, invoice or payment).

    The record is written in the job's transaction, with the work's own writes: both commit
    or neither does. External calls inside ``work`` get ``ctx.key`` as their idempotency key.
    """

    async def handler(ctx: JobContext) -> None:
        target = await load_target(ctx)
        if await find_record(ctx.session, job_type, target.item.id, target.reference):
            return
        outcome = await work(ctx, target)
        now = ctx.runtime.clock.now()
        target.item.fulfilled_at = now
        await add_record(ctx.session, job_type, target, outcome, now)
        await ctx.session.flush()

    handler.__name__ = f"fulfil_{job_type.rsplit('.', 1)[-1]}"
    return handler
