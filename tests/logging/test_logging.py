from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from billhook.http.errors import install_error_handlers
from billhook.logging import REDACTED, configure_logging, get_logger


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging("INFO", "json")
    yield
    configure_logging("INFO", "console")  # the default, for the tests that run after this one


@pytest.mark.usefixtures("json_logs")
def test_secrets_and_card_numbers_never_reach_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    get_logger("test").info(
        "provider_call",
        api_key="sk_test_abcdefghijklmnop",
        note="charged 4242424242424242 with sk_live_1234567890abcd",
        webhook_secret="whsec_abcdef123456",
        customer="cus_123",
    )
    line = capsys.readouterr().err
    assert "4242424242424242" not in line
    assert "sk_test_abcdefghijklmnop" not in line
    assert "sk_live_1234567890abcd" not in line
    assert "whsec_abcdef123456" not in line
    assert REDACTED in line
    assert "cus_123" in line


def _database_error() -> Exception:
    """What SQLAlchemy raises for a failed INSERT: its text carries the statement and parameters."""
    detail = Exception(
        'duplicate key value violates unique constraint "users_email_key"\n'
        "DETAIL:  Key (email)=(ada@example.com) already exists."
    )
    try:
        raise IntegrityError("INSERT INTO users (email) VALUES ($1)", ("ada@example.com",), detail)
    except IntegrityError as exc:
        return exc


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.usefixtures("json_logs")
def test_uvicorn_error_lines_are_json_without_sql_parameters_or_emails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = _database_error()
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=error)

    err = capsys.readouterr().err
    [line] = _lines(err)  # every line is JSON: the traceback is inside the one object
    assert line["event"] == "Exception in ASGI application"
    assert line["exception"]["type"] == "IntegrityError"
    assert "ada@example.com" not in err
    assert "[parameters" not in err and "INSERT" not in err


@pytest.mark.usefixtures("json_logs")
async def test_an_unhandled_error_in_a_route_is_one_clean_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise _database_error()

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")

    assert response.status_code == 500
    err = capsys.readouterr().err
    lines = _lines(err)
    assert any(line["event"] == "unhandled_error" for line in lines)
    assert "ada@example.com" not in err and "[parameters" not in err


def test_the_console_format_describes_an_error_without_its_parameters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "console")
    try:
        raise _database_error()
    except Exception:
        get_logger("test").exception("unhandled_error")

    err = capsys.readouterr().err
    assert "IntegrityError" in err
    assert "ada@example.com" not in err and "[parameters" not in err


@pytest.mark.usefixtures("json_logs")
def test_an_email_address_in_any_value_keeps_only_its_domain(capsys: pytest.CaptureFixture[str]) -> None:
    get_logger("test").warning(
        "email_send_failed", error="SMTP 550: mailbox ada.lovelace+x@example.com unknown"
    )

    [line] = _lines(capsys.readouterr().err)
    assert line["error"] == "SMTP 550: mailbox [email]@example.com unknown"
