"""Stand-ins at the seams: a recording mailer, an SMTP server (aiosmtpd) and a fake Mailgun."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage as MimeMessage
from email.policy import default
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from billhook.kit.clock import FrozenClock
from billhook.models import EmailMessage, OutboxJob
from billhook.notifications.mailer import MailError, OutgoingEmail, SendResult
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime


class RecordingMailer:
    """Keeps what it is asked to send; raises the scripted errors first, one per call."""

    name = "recording"

    def __init__(self, *errors: MailError) -> None:
        self.sent: list[OutgoingEmail] = []
        self.errors = list(errors)

    async def send(self, message: OutgoingEmail) -> SendResult:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)
        return SendResult(transport=self.name, message_id=f"rec-{len(self.sent)}")

    async def aclose(self) -> None:
        return None


# -- SMTP -------------------------------------------------------------------------------------


@dataclass
class SmtpInbox:
    """An aiosmtpd handler: answers RCPT with the scripted replies first, then accepts."""

    rcpt_replies: list[str] = field(default_factory=list)
    messages: list[MimeMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    rcpt_attempts: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.rcpt_attempts += 1
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = message_from_bytes(content, policy=default)
        assert isinstance(parsed, MimeMessage)
        self.messages.append(parsed)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@asynccontextmanager
async def smtp_server(inbox: SmtpInbox) -> AsyncIterator[int]:
    """A real SMTP server on a free loopback port, in the test's own event loop."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="smtp.test"), "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


# -- Mailgun ----------------------------------------------------------------------------------


@dataclass
class MailgunRequest:
    path: str
    form: dict[str, str]
    username: str
    password: str
    content_type: str


@dataclass
class FakeMailgun:
    """Mailgun's messages endpoint: records requests and answers with the scripted statuses."""

    statuses: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    requests: list[MailgunRequest] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v3/{domain}/messages")
        async def messages(request: Request, domain: str) -> JSONResponse:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            user, _, password = (
                base64.b64decode(token).decode().partition(":") if scheme == "Basic" else ("", "", "")
            )
            form = {key: str(value) for key, value in (await request.form()).items()}
            self.requests.append(
                MailgunRequest(
                    request.url.path, form, user, password, request.headers.get("content-type", "")
                )
            )
            if self.statuses:
                status, body = self.statuses.pop(0)
                return JSONResponse(body, status_code=status)
            return JSONResponse(
                {"id": f"<{len(self.requests)}@mg.example.com>", "message": "Queued. Thank you."}
            )

        return app


@asynccontextmanager
async def http_server(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


# -- driving the outbox -----------------------------------------------------------------------


async def settle(runtime: Runtime, clock: FrozenClock, *, rounds: int = 8) -> int:
    """Run the real outbox worker until no job is left, moving time past each retry delay."""
    worker = OutboxWorker(runtime, listen=False)
    ran = 0
    for _ in range(rounds):
        ran += await worker.drain()
        clock.advance(timedelta(minutes=1))
    return ran


async def email_rows(runtime: Runtime) -> list[EmailMessage]:
    async with runtime.session_factory() as session:
        return list((await session.execute(select(EmailMessage).order_by(EmailMessage.created_at))).scalars())


async def jobs(runtime: Runtime, job_type: str | None = None) -> list[OutboxJob]:
    query = select(OutboxJob).order_by(OutboxJob.created_at)
    if job_type is not None:
        query = query.where(OutboxJob.type == job_type)
    async with runtime.session_factory() as session:
        return list((await session.execute(query)).scalars())
