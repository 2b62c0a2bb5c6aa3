"""Garbage-collector settings for long-running server processes."""

from __future__ import annotations

import gc

# Objects allocated between young collections. The default (700) promotes the objects of
# requests still in flight to older generations, where they die anyway and make full
# collections come round more often.
_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Take what start-up built out of the collector's view, once the app is built.

    A full collection walks every tracked object. After imports and app construction that is
    about 200,000 of them (FastAPI, SQLAlchemy, the Stripe SDK), so each full collection paused
    the event loop for ~100 ms under load: every request in flight waited (the p99 of
    ``bench/webhook_ingest.py``). Frozen objects are never collected; they live as long as the
    process anyway. Call it in the server or worker process, not in tests.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, middle, old)
