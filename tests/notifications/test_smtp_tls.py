"""STARTTLS and implicit TLS against a real aiosmtpd server with a throw-away certificate."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from billhook.notifications.mailer import OutgoingEmail, TransientMailError
from billhook.notifications.smtp import SmtpMailer
from tests.support.mail import SmtpInbox, smtp_server

MESSAGE = OutgoingEmail(to="ada@example.com", subject="Over TLS", text="plain", html="<p>rich</p>")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


class Credentials:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    def __call__(self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.seen.append((data.login.decode(), data.password.decode(), session.ssl is not None))
        return AuthResult(success=data.password == b"s3cret-pw")


@pytest.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="smtp.test"), "127.0.0.1", 0, ssl=_server_context(certificate)
    )
    try:
        yield inbox, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_credentials_go_over_starttls(certificate: tuple[Path, Path]) -> None:
    inbox, credentials = SmtpInbox(), Credentials()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="smtp.test", tls_context=_server_context(certificate),
                     require_starttls=True, auth_required=True, authenticator=credentials),
        "127.0.0.1", 0,
    )  # fmt: skip
    port = int(server.sockets[0].getsockname()[1])
    try:
        mailer = SmtpMailer(
            host="127.0.0.1", port=port, from_email="hello@coachly.example", username="hello@coachly.example",
            password="s3cret-pw", tls_context=_client_context(certificate), timeout=5,
        )  # fmt: skip
        await mailer.send(MESSAGE)
    finally:
        server.close()
        await server.wait_closed()

    assert credentials.seen == [("hello@coachly.example", "s3cret-pw", True)]
    assert [message["Subject"] for message in inbox.messages] == ["Over TLS"]


async def test_implicit_tls(tls_server: tuple[SmtpInbox, int], certificate: tuple[Path, Path]) -> None:
    inbox, port = tls_server
    mailer = SmtpMailer(
        host="127.0.0.1", port=port, from_email="hello@coachly.example", security="tls",
        tls_context=_client_context(certificate), timeout=5,
    )  # fmt: skip

    await mailer.send(MESSAGE)

    assert [message["Subject"] for message in inbox.messages] == ["Over TLS"]


async def test_credentials_are_never_sent_without_tls() -> None:
    inbox = SmtpInbox()
    async with smtp_server(inbox) as port:  # a server that offers no STARTTLS
        mailer = SmtpMailer(
            host="127.0.0.1", port=port, from_email="hello@coachly.example", username="hello@coachly.example",
            password="s3cret-pw", timeout=5,
        )  # fmt: skip
        with pytest.raises(TransientMailError) as caught:
            await mailer.send(MESSAGE)

    assert "s3cret-pw" not in caught.value.reason
    assert inbox.messages == []
