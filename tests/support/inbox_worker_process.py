"""A worker in its own process, for the SIGKILL test: applies events, then holds one mid-transaction.

Usage: python -m tests.support.inbox_worker_process DATABASE_URL API_BASE HOLD_AFTER
Prints ``applied <event id>`` after each handler and ``holding <event id>`` when it stops inside
a transaction (handler done, not committed) and waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from billhook.config import load_settings
from billhook.inbox.handlers import ROUTES, Handler, HandlerContext
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.providers.stripe import StripeProvider
from billhook.runtime import Runtime


def holding_routes(hold_after: int) -> dict[str, Handler]:
    applied = 0

    def wrap(handler: Handler) -> Handler:
        async def run(ctx: HandlerContext) -> None:
            nonlocal applied
            await handler(ctx)
            applied += 1
            if applied > hold_after:
                print(f"holding {ctx.event.id}", flush=True)
                await asyncio.sleep(3600)
            print(f"applied {ctx.event.id}", flush=True)

        return run

    return {event_type: wrap(handler) for event_type, handler in ROUTES.items()}


async def main(database_url: str, api_base: str, hold_after: int) -> None:
    settings = load_settings(env_file=None, database_url=database_url, billhook_env="test")
    runtime = Runtime.build(settings)
    runtime.provider = StripeProvider("sk_test_billhook", api_base, max_network_retries=0)
    options = WorkerOptions(
        concurrency=1, lease=timedelta(seconds=2), reconcile_interval=None, routes=holding_routes(hold_after)
    )
    await InboxWorker(runtime, options).drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
