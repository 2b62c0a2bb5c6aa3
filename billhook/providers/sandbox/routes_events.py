"""Routes for events, webhook endpoints and the sandbox's own test helpers (clock, chaos, log, reset)."""

from __future__ import annotations

from . import scheduler, test_clocks, webhooks
from .api import ApiRouter, Call
from .config import DAY
from .errors import InvalidRequest, ResourceMissing, invalid
from .params import Params
from .render import paginate, view
from .store import Doc

router = ApiRouter()
RANGE_OPS = ("gt", "gte", "lt", "lte")
MAX_ADVANCE_DAYS = 5 * 366  # one call moves at most about five years: renewals run one by one


def _created(p: Params) -> dict[str, int]:
    raw = p.raw("created")
    if raw is None:
        return {}
    if isinstance(raw, str):
        exact = p.require_integer("created")
        return {"gte": exact, "lte": exact}
    created = p.sub("created")
    assert created is not None
    bounds = {}
    for op in RANGE_OPS:
        value = created.integer(op)
        if value is not None:
            bounds[op] = value
    return bounds


@router.route("GET", "/v1/events")
async def list_events(call: Call) -> Doc:
    tx, p = call.tx, call.params
    event_type, types = p.text("type"), p.texts("types")
    if event_type and types:
        raise invalid("types", "You cannot pass both `type` and `types`.")
    bounds = _created(p)
    found = await tx.list_events(event_type, bounds)
    if types:
        found = [e for e in found if e["type"] in types]
    return paginate(found, p, "/v1/events")


@router.route("GET", "/v1/events/{id}")
async def get_event(call: Call) -> Doc:
    event = await call.tx.get_event(call.arg("id"))
    if event is None:
        raise ResourceMissing("event", call.arg("id"))
    return event


# webhook endpoints


@router.route("POST", "/v1/webhook_endpoints")
async def create_webhook_endpoint(call: Call) -> Doc:
    return webhooks.with_secret(await webhooks.create_endpoint(call.tx, call.params))


@router.route("GET", "/v1/webhook_endpoints")
async def list_webhook_endpoints(call: Call) -> Doc:
    found = [e for e in await call.tx.find("webhook_endpoint") if not e.get("deleted")]
    return paginate(found, call.params, "/v1/webhook_endpoints")


@router.route("GET", "/v1/webhook_endpoints/{id}")
async def get_webhook_endpoint(call: Call) -> Doc:
    return view(await call.tx.load("webhook_endpoint", call.arg("id")))


@router.route("POST", "/v1/webhook_endpoints/{id}")
async def update_webhook_endpoint(call: Call) -> Doc:
    endpoint = await call.tx.load("webhook_endpoint", call.arg("id"))
    return view(await webhooks.update_endpoint(call.tx, endpoint, call.params))


@router.route("DELETE", "/v1/webhook_endpoints/{id}")
async def delete_webhook_endpoint(call: Call) -> Doc:
    endpoint = await call.tx.load("webhook_endpoint", call.arg("id"))
    endpoint["deleted"] = True
    await call.tx.put(endpoint)
    return view(endpoint)


# sandbox test helpers


def clock_body(now: int, offset: int) -> Doc:
    return {"object": "sandbox.clock", "now": now, "offset": offset}


@router.route("POST", "/v1/test_helpers/sandbox/advance", transactional=False)
async def advance(call: Call) -> Doc:
    p = call.params
    bound = MAX_ADVANCE_DAYS * DAY
    seconds = p.integer("seconds", minimum=0, maximum=bound) or 0
    seconds += (p.integer("hours", minimum=0, maximum=bound // 3600) or 0) * 3600
    seconds += (p.integer("days", minimum=0, maximum=MAX_ADVANCE_DAYS) or 0) * DAY
    if seconds <= 0:
        raise InvalidRequest(
            "Pass a positive `seconds`, `hours` or `days`.", code="parameter_missing", param="seconds"
        )
    now = await scheduler.advance(call.store, seconds)
    return clock_body(now, call.store.clock_offset)


# Stripe's test clocks (test_clocks.py)


@router.route("POST", "/v1/test_helpers/test_clocks")
async def create_test_clock(call: Call) -> Doc:
    return await test_clocks.create_clock(call.tx, call.params)


@router.route("GET", "/v1/test_helpers/test_clocks")
async def list_test_clocks(call: Call) -> Doc:
    return paginate(await test_clocks.list_clocks(call.tx), call.params, "/v1/test_helpers/test_clocks")


@router.route("GET", "/v1/test_helpers/test_clocks/{id}")
async def get_test_clock(call: Call) -> Doc:
    return await test_clocks.load_clock(call.tx, call.arg("id"))


@router.route("DELETE", "/v1/test_helpers/test_clocks/{id}")
async def delete_test_clock(call: Call) -> Doc:
    return await test_clocks.delete_clock(call.tx, await test_clocks.load_clock(call.tx, call.arg("id")))


@router.route("POST", "/v1/test_helpers/test_clocks/{id}/advance", transactional=False)
async def advance_test_clock(call: Call) -> Doc:
    frozen_time = call.params.require_integer("frozen_time", minimum=0)
    return await scheduler.advance_clock(call.store, call.arg("id"), frozen_time)


@router.route("GET", "/v1/test_helpers/sandbox/clock", transactional=False)
async def clock(call: Call) -> Doc:
    return clock_body(call.store.now(), call.store.clock_offset)


@router.route("POST", "/v1/test_helpers/sandbox/chaos")
async def set_chaos(call: Call) -> Doc:
    p, tx = call.params, call.tx
    chaos = await webhooks.current_chaos(tx)
    if p.flag("off"):
        chaos = webhooks.chaos_from({})
    for switch in ("out_of_order", "duplicate"):
        value = p.flag(switch)
        if value is not None:
            setattr(chaos, switch, value)
    delay, drop = p.number("delay"), p.number("drop")
    if delay is not None:
        chaos.delay = max(0.0, delay)
    if drop is not None:
        if not 0.0 <= drop <= 1.0:
            raise invalid("drop", "`drop` is a fraction between 0 and 1.", code="parameter_invalid_decimal")
        chaos.drop = drop
    await tx.set_state("chaos", chaos.as_dict())
    return {"object": "sandbox.chaos", **chaos.as_dict()}


@router.route("GET", "/v1/test_helpers/sandbox/chaos")
async def get_chaos(call: Call) -> Doc:
    return {"object": "sandbox.chaos", **(await webhooks.current_chaos(call.tx)).as_dict()}


@router.route("GET", "/v1/test_helpers/sandbox/deliveries")
async def deliveries(call: Call) -> Doc:
    p = call.params
    limit = p.integer("limit", minimum=1) or 100
    log = await webhooks.delivery_log(call.tx, p.text("event"), min(limit, 1000))
    return {"object": "list", "data": log, "has_more": False, "url": "/v1/test_helpers/sandbox/deliveries"}


@router.route("POST", "/v1/test_helpers/sandbox/reset", transactional=False)
async def reset(call: Call) -> Doc:
    await call.store.drop_all()
    return clock_body(call.store.now(), call.store.clock_offset)
