"""Workers whose database goes away log one line per attempt, backing off, never a traceback flood."""

from __future__ import annotations

import asyncio

import structlog

from billhook.db.outage import Outage, is_outage
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.outbox.worker import OutboxWorker
from billhook.providers.stripe import build_provider
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.server import free_port


def _unreachable_runtime() -> Runtime:
    settings = make_settings(f"postgresql+asyncpg://billhook@127.0.0.1:{free_port()}/gone")
    runtime = Runtime.build(settings)
    runtime.provider = build_provider(settings)
    return runtime


async def test_inbox_and_outbox_slots_share_one_line_per_attempt_while_the_database_is_gone() -> None:
    runtime = _unreachable_runtime()
    inbox = InboxWorker(runtime, WorkerOptions(concurrency=4, reconcile_interval=None, poll_interval=0.05))
    outbox = OutboxWorker(runtime, concurrency=4, poll_interval=0.05, listen=False)
    with structlog.testing.capture_logs() as logs:
        await inbox.start()
        await outbox.start()
        await asyncio.sleep(2.0)
        await inbox.aclose()
        await outbox.aclose()
    await runtime.aclose()
    for event in ("inbox_database_unavailable", "outbox_database_unavailable"):
        lines = [entry for entry in logs if entry["event"] == event]
        # 0.5 s, 1 s, 2 s between attempts: three or four lines in two seconds, whatever the slots.
        assert 2 <= len(lines) <= 4, [entry["event"] for entry in logs]
        assert [entry["attempt"] for entry in lines] == list(range(1, len(lines) + 1))
        assert lines[0]["error"].startswith(("ConnectionRefusedError", "OSError"))
    assert not [entry for entry in logs if entry["log_level"] in ("error", "exception")]


async def test_recovery_is_one_line_and_resets_the_backoff() -> None:
    with structlog.testing.capture_logs() as logs:
        outage = Outage(structlog.get_logger(), "test_database_unavailable", first=0.01)
        await outage.wait_after(ConnectionRefusedError("refused"))
        await outage.wait_after(ConnectionRefusedError("refused"))
        outage.recovered()
        outage.recovered()
    assert [entry["event"] for entry in logs] == [
        "test_database_unavailable",
        "test_database_unavailable",
        "test_database_unavailable_recovered",
    ]
    assert outage.attempts == 0 and outage.delay() == 0.01


def test_a_query_mistake_is_not_an_outage() -> None:
    assert is_outage(ConnectionRefusedError("refused"))
    assert not is_outage(ValueError("bad"))
