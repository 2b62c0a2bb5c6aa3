from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from billhook.kit.clock import FrozenClock, utcnow
from billhook.notifications import register_jobs
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.mail import RecordingMailer


@pytest.fixture
def clock() -> FrozenClock:
    # ``enqueue`` stamps jobs with the real time; the worker's frozen clock starts past it.
    return FrozenClock(utcnow() + timedelta(minutes=1))


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
async def runtime(database_url: str, clock: FrozenClock, mailer: RecordingMailer) -> AsyncIterator[Runtime]:
    settings = make_settings(database_url, billhook_base_url="https://coaching.example.com")
    runtime = Runtime.build(settings, clock=clock)
    register_jobs(runtime.jobs)
    runtime.mailer = mailer
    yield runtime
    await runtime.aclose()
