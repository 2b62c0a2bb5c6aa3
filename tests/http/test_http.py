from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from billhook.app import create_app
from billhook.config import Settings
from billhook.http.request_id import RequestIdMiddleware
from billhook.runtime import Runtime
from tests.support.databases import make_settings


class Echo(BaseModel):
    amount: int
    currency: str


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime.build(settings)
    app = create_app(settings, runtime)

    @app.post("/test/echo")
    async def echo(body: Echo) -> Echo:
        return body

    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await runtime.aclose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(settings):
        yield client


async def test_healthz_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_reports_the_database(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": backend}


async def test_readyz_is_503_when_the_database_is_down() -> None:
    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async for client in _client(settings):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert "database unreachable" in response.json()["error"]["message"]


async def test_readyz_checks_redis_when_configured(database_url: str, redis_url: str) -> None:
    async for client in _client(make_settings(database_url, redis_url=redis_url)):
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["redis"] == "ok"


async def test_readyz_is_503_when_redis_is_down(database_url: str) -> None:
    async for client in _client(make_settings(database_url, redis_url="redis://127.0.0.1:1/0")):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert "redis unreachable" in response.json()["error"]["message"]


async def test_unknown_route_uses_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


async def test_wrong_method_is_405_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/test/echo", content=b'{"amount": 5,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["message"] == "request body is not valid JSON"


async def test_invalid_field_is_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/test/echo", json={"amount": "lots", "currency": "eur"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("amount: ")
    assert response.json()["error"]["fields"][0]["field"] == "amount"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert generated.headers["x-request-id"].startswith("req_")
    echoed = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    hostile = await client.get("/healthz", headers={"x-request-id": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"].startswith("req_")


async def test_request_id_is_in_the_log_context_only_during_the_request() -> None:
    seen: list[dict[str, object]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(structlog.contextvars.get_contextvars())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    structlog.contextvars.bind_contextvars(request_id="outer")
    try:
        scope = {"type": "http", "headers": [(b"x-request-id", b"req-inner")]}
        await RequestIdMiddleware(app)(scope, receive, send)
        assert seen == [{"request_id": "req-inner"}]
        assert (b"x-request-id", b"req-inner") in sent[0]["headers"]
        assert structlog.contextvars.get_contextvars() == {"request_id": "outer"}
    finally:
        structlog.contextvars.clear_contextvars()


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/readyz" in response.json()["paths"]


async def test_metrics_are_exposed_for_prometheus(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "python_info" in response.text
