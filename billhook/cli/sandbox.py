"""``billhook sandbox``: run the offline Stripe sandbox and steer a running one.

Commands other than ``serve`` (and ``reset --db``) talk to a running sandbox over HTTP, found at
``--api-base``, else ``STRIPE_API_BASE``, else ``BILLHOOK_BASE_URL`` + ``/sandbox`` (the sandbox
``billhook serve`` embeds), each read from the environment or ``.env``; else
http://127.0.0.1:8000/sandbox.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer

from billhook.cli.tables import print_table
from billhook.config import environment_value

DEFAULT_BASE = "http://127.0.0.1:8000/sandbox"
DEFAULT_DB = "sqlite+aiosqlite:///./billhook-sandbox.db"  # SandboxConfig's default

app = typer.Typer(
    help="The offline Stripe-compatible sandbox: serve it, move its clock, manage webhooks and chaos.",
    no_args_is_help=True,
)
webhook_app = typer.Typer(
    help="Webhook endpoints the sandbox delivers signed events to.", no_args_is_help=True
)
app.add_typer(webhook_app, name="webhook")

ApiBase = Annotated[
    str | None,
    typer.Option(
        "--api-base",
        help="Base URL of the running sandbox (default: STRIPE_API_BASE, else BILLHOOK_BASE_URL/sandbox).",
    ),
]
ApiKey = Annotated[str, typer.Option("--api-key", help="Any sk_test_ key; the sandbox accepts them all.")]


def sandbox_base(explicit: str | None) -> tuple[str, str]:
    """Where the sandbox is, and which setting said so (for the error when nothing answers)."""
    if explicit:
        return explicit.rstrip("/"), "--api-base"
    api_base = environment_value("STRIPE_API_BASE")
    if api_base:
        return api_base.rstrip("/"), "STRIPE_API_BASE"
    base_url = environment_value("BILLHOOK_BASE_URL")
    if base_url:
        return f"{base_url.rstrip('/')}/sandbox", "BILLHOOK_BASE_URL"
    return DEFAULT_BASE, "the default address"


def _request(
    explicit: str | None, key: str, method: str, path: str, data: dict[str, Any] | None = None
) -> Any:
    base, source = sandbox_base(explicit)
    url = base + path
    try:
        response = httpx.request(
            method,
            url,
            data=data if method == "POST" else None,
            params=data if method == "GET" else None,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        typer.echo(
            f"error: no sandbox answered at {base} (from {source}; {type(exc).__name__}): start Billhook "
            "with 'billhook serve' (it serves the sandbox at /sandbox), or pass --api-base",
            err=True,
        )
        raise typer.Exit(1) from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 400:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        typer.echo(f"error: {message or response.text}", err=True)
        raise typer.Exit(1)
    return body


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[
        str, typer.Option("--db", help="SQLAlchemy async URL of the sandbox's own state.")
    ] = DEFAULT_DB,
    public_url: Annotated[
        str | None, typer.Option(help="URL clients reach the sandbox at (default: http://HOST:PORT/sandbox).")
    ] = None,
) -> None:
    """Run the sandbox alone, under /sandbox, like the embedded default."""
    import uvicorn  # noqa: PLC0415 (the server and the sandbox load only for this command)

    from billhook.providers.sandbox import Sandbox, SandboxConfig, standalone_app  # noqa: PLC0415

    url = public_url or f"http://{host}:{port}/sandbox"
    sandbox = Sandbox(SandboxConfig(database_url=db, public_url=url))
    typer.echo(f"Stripe sandbox at {url} (state: {db})\n  export STRIPE_API_BASE={url}")
    uvicorn.run(
        standalone_app(sandbox, urlsplit(url).path or "/sandbox"), host=host, port=port, log_level="warning"
    )


@app.command()
def reset(
    api_base: ApiBase = None,
    api_key: ApiKey = "sk_test_sandbox",
    db: Annotated[
        str | None,
        typer.Option("--db", help="Reset this state database directly instead of a running sandbox."),
    ] = None,
) -> None:
    """Forget every object, event and delivery, and set the clock back to real time."""
    if db is not None:
        asyncio.run(_reset_database(db))
        typer.echo(f"Reset {db}.")
        return
    _request(api_base, api_key, "POST", "/v1/test_helpers/sandbox/reset")
    typer.echo(f"Reset the sandbox at {sandbox_base(api_base)[0]}.")


async def _reset_database(db: str) -> None:
    from billhook.providers.sandbox import SandboxConfig  # noqa: PLC0415
    from billhook.providers.sandbox.store import Store  # noqa: PLC0415

    store = Store(SandboxConfig(database_url=db))
    try:
        await store.create_tables()
        await store.drop_all()
    finally:
        await store.dispose()


@app.command()
def advance(
    days: Annotated[int, typer.Option(help="Days to move the clock forward.")] = 0,
    hours: Annotated[int, typer.Option(help="Hours to move the clock forward.")] = 0,
    seconds: Annotated[int, typer.Option(help="Seconds to move the clock forward.")] = 0,
    api_base: ApiBase = None,
    api_key: ApiKey = "sk_test_sandbox",
) -> None:
    """Move sandbox time forward: renewals, payment retries, trial ends and expiries run in order."""
    if days <= 0 and hours <= 0 and seconds <= 0:
        typer.echo("error: pass --days, --hours or --seconds.", err=True)
        raise typer.Exit(2)
    clock = _request(
        api_base,
        api_key,
        "POST",
        "/v1/test_helpers/sandbox/advance",
        {"days": days, "hours": hours, "seconds": seconds},
    )
    typer.echo(f"Sandbox time is now {clock_line(clock['now'], clock['offset'])}.")


@app.command()
def clock(api_base: ApiBase = None, api_key: ApiKey = "sk_test_sandbox") -> None:
    """Show sandbox time and its offset from real time."""
    body = _request(api_base, api_key, "GET", "/v1/test_helpers/sandbox/clock")
    typer.echo(f"Sandbox time is {clock_line(body['now'], body['offset'])}.")


def clock_line(now: int, offset: int) -> str:
    """``2026-12-08T10:00:00+00:00 (2 days ahead of real time)``."""
    moment = datetime.fromtimestamp(now, UTC).isoformat()
    return f"{moment} ({offset_text(offset)})"


def offset_text(seconds: int) -> str:
    if seconds == 0:
        return "real time"
    delta = timedelta(seconds=abs(seconds))
    parts = [(delta.days, "day"), (delta.seconds // 3600, "hour"), (delta.seconds // 60 % 60, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    if not words:
        words = [f"{delta.seconds} second{'s' if delta.seconds != 1 else ''}"]
    return f"{' '.join(words)} {'ahead of' if seconds > 0 else 'behind'} real time"


@webhook_app.command("add")
def webhook_add(
    url: Annotated[
        str, typer.Argument(help="Where to POST events, e.g. http://127.0.0.1:8000/webhooks/stripe.")
    ],
    event: Annotated[
        list[str] | None, typer.Option("--event", help="Event type to send (repeat); all if none.")
    ] = None,
    api_base: ApiBase = None,
    api_key: ApiKey = "sk_test_sandbox",
) -> None:
    """Add a webhook endpoint and print its signing secret."""
    data: dict[str, Any] = {f"enabled_events[{i}]": e for i, e in enumerate(event or ["*"])}
    endpoint = _request(api_base, api_key, "POST", "/v1/webhook_endpoints", {"url": url, **data})
    typer.echo(f"{endpoint['id']}  {endpoint['url']}\nsigning secret: {endpoint['secret']}")


@webhook_app.command("list")
def webhook_list(api_base: ApiBase = None, api_key: ApiKey = "sk_test_sandbox") -> None:
    """List webhook endpoints."""
    body = _request(api_base, api_key, "GET", "/v1/webhook_endpoints", {"limit": 100})
    print_table(
        ("id", "status", "url", "events"),
        ((e["id"], e["status"], e["url"], ", ".join(e["enabled_events"])) for e in body["data"]),
        empty="No webhook endpoints.",
    )


@app.command()
def chaos(
    *,
    out_of_order: Annotated[
        bool | None, typer.Option("--out-of-order/--in-order", help="Shuffle deliveries.")
    ] = None,
    duplicate: Annotated[
        bool | None, typer.Option("--duplicate/--no-duplicate", help="Send each one twice.")
    ] = None,
    delay: Annotated[float | None, typer.Option(help="Hold every delivery back this many seconds.")] = None,
    drop: Annotated[float | None, typer.Option(help="Fraction of deliveries to drop (0 to 1).")] = None,
    off: Annotated[bool, typer.Option("--off", help="Turn every chaos switch off first.")] = False,
    api_base: ApiBase = None,
    api_key: ApiKey = "sk_test_sandbox",
) -> None:
    """Show or change the webhook chaos switches (dropped events stay in /v1/events)."""
    data: dict[str, Any] = {}
    if off:
        data["off"] = "true"
    for name, value in (("out_of_order", out_of_order), ("duplicate", duplicate)):
        if value is not None:
            data[name] = "true" if value else "false"
    for name, number in (("delay", delay), ("drop", drop)):
        if number is not None:
            data[name] = str(number)
    method = "POST" if data else "GET"
    body = _request(api_base, api_key, method, "/v1/test_helpers/sandbox/chaos", data or None)
    typer.echo("  ".join(f"{k}={body[k]}" for k in ("out_of_order", "duplicate", "delay", "drop")))


@app.command()
def deliveries(
    event: Annotated[str | None, typer.Option(help="Only this event id.")] = None,
    limit: Annotated[int, typer.Option(help="How many attempts to show, newest first.")] = 50,
    api_base: ApiBase = None,
    api_key: ApiKey = "sk_test_sandbox",
) -> None:
    """The webhook delivery log: one line per attempt."""
    params: dict[str, Any] = {"limit": limit}
    if event:
        params["event"] = event
    body = _request(api_base, api_key, "GET", "/v1/test_helpers/sandbox/deliveries", params)
    print_table(
        ("event", "type", "attempt", "state", "answer", "url"),
        (
            (
                r["event"],
                r["event_type"],
                r["attempt"],
                r["state"],
                r["status_code"] or r["error"] or "",
                r["url"],
            )
            for r in body["data"]
        ),
        empty="No deliveries yet.",
    )


@app.command()
def dispute(
    charge: Annotated[str, typer.Argument(help="The charge to dispute (ch_...).")],
    reason: Annotated[
        str, typer.Option(help="Dispute reason, e.g. fraudulent or product_not_received.")
    ] = "fraudulent",
    api_base: ApiBase = None,
    api_key: ApiKey = "sk_test_sandbox",
) -> None:
    """Open a dispute on a succeeded charge (emits charge.dispute.created)."""
    body = _request(
        api_base, api_key, "POST", "/v1/test_helpers/sandbox/disputes", {"charge": charge, "reason": reason}
    )
    typer.echo(f"{body['id']}  {body['status']}  {body['amount']} {body['currency']}")
