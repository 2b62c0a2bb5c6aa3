"""Child processes for the crash tests: ``python -m tests.support.outbox_worker_process MODE URL [ARG]``.

* ``enqueue URL KEY``: enqueue one effect job, commit, print ``committed`` and wait to be killed.
* ``work URL``: run a worker (1 s lease) until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from billhook.outbox import enqueue
from billhook.outbox.worker import OutboxWorker
from tests.support.outbox import EFFECT, build_runtime


async def enqueue_and_wait(url: str, key: str) -> None:
    runtime = build_runtime(url)
    async with runtime.session_factory() as session:
        await enqueue(session, EFFECT, {}, key=key)
        await session.commit()
    print("committed", flush=True)
    await asyncio.Event().wait()


async def work(url: str) -> None:
    runtime = build_runtime(url)
    worker = OutboxWorker(runtime, lease=timedelta(seconds=1), poll_interval=0.05)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await worker.start()
    print("working", flush=True)
    await stop.wait()
    await worker.aclose()
    await runtime.aclose()


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    asyncio.run(enqueue_and_wait(url, rest[0]) if mode == "enqueue" else work(url))
