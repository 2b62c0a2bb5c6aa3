"""Host fulfilment through Python entry points, for order items of kind ``custom:<name>``.

A host application declares, in its own ``pyproject.toml``::

    [project.entry-points."billhook.fulfilment"]
    license_key = "myapp.billing:issue_license_key"

and writes ``async def issue_license_key(request: CustomFulfilment) -> None``. Billhook calls it
from the ``fulfilment.custom`` job for items of kind ``custom:license_key``. Raising
:class:`~billhook.outbox.PermanentJobError` dead-letters the job; any other exception retries
it. The call may repeat after a crash, so use ``request.idempotency_key``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, cast

from billhook.catalog.kinds import CUSTOM_PREFIX
from billhook.fulfilment.records import ItemWork, Target
from billhook.outbox import JobContext, PermanentJobError

ENTRY_POINT_GROUP = "billhook.fulfilment"


@dataclass(frozen=True, slots=True)
class CustomFulfilment:
    """What a host's fulfilment function receives: plain values, no database session."""

    name: str
    order_id: str
    order_type: str
    order_item_id: str
    reference: str
    user_id: str | None
    customer_id: str | None
    product_id: str | None
    quantity: int
    details: Mapping[str, Any]
    idempotency_key: str


HostFulfiller = Callable[[CustomFulfilment], Awaitable[None]]
FulfillerLoader = Callable[[str], HostFulfiller]


def load_entry_point(name: str) -> HostFulfiller:
    """The callable a distribution registered under ``billhook.fulfilment`` as ``name``."""
    found = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == name]
    if not found:
        raise PermanentJobError(
            f"no {ENTRY_POINT_GROUP!r} entry point named {name!r} is installed "
            f"(needed by order items of kind {CUSTOM_PREFIX}{name})"
        )
    target = found[0].load()
    if not callable(target):
        raise PermanentJobError(f"entry point {found[0].value!r} is not callable")
    return cast(HostFulfiller, target)


def run_host_fulfilment(loader: FulfillerLoader = load_entry_point) -> ItemWork:
    async def work(ctx: JobContext, target: Target) -> dict[str, Any]:
        name = target.item.kind.removeprefix(CUSTOM_PREFIX)
        fulfil = loader(name)
        request = CustomFulfilment(
            name=name, order_id=target.order.id, order_type=target.order.type, order_item_id=target.item.id,
            reference=target.reference, user_id=target.order.user_id, customer_id=target.order.customer_id,
            product_id=target.item.product_id, quantity=target.item.quantity,
            details=dict(target.item.details), idempotency_key=ctx.key,
        )  # fmt: skip
        await fulfil(request)
        return {"entry_point": name}

    return work
