"""The OpenAPI schema lists each operation's error responses, all in the one error shape."""

from __future__ import annotations

from typing import Any

import pytest

from billhook.app import create_app
from billhook.bootstrap import build_runtime
from tests.support.databases import make_settings


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "unused.db"
    settings = make_settings(f"sqlite:///{path}")
    app = create_app(settings, build_runtime(settings, workers=False))
    return app.openapi()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def _errors(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"] if int(status) >= 400}


def test_every_error_response_has_the_one_error_shape(schema: dict[str, Any]) -> None:
    for method, path, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                body = response["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["schemas"]["ErrorResponse"]["required"] == ["error"]


def test_signed_in_operations_list_401_and_403(schema: dict[str, Any]) -> None:
    signed_in = ["/api/me", "/api/subscription", "/api/payments/{payment_id}", "/api/bookings"]
    for method, path, operation in _operations(schema):
        if path in signed_in:
            assert {401, 403} <= _errors(operation), (method, path)


def test_path_ids_list_404_and_bodies_list_400_408_413(schema: dict[str, Any]) -> None:
    for method, path, operation in _operations(schema):
        if "{" in path:
            assert 404 in _errors(operation), (method, path)
        if "requestBody" in operation:
            assert {400, 408, 413, 422} <= _errors(operation), (method, path)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("POST", "/api/auth/login", {401, 429}),
        ("POST", "/api/auth/register", {409, 429}),
        ("POST", "/api/payments/checkout", {404, 409, 502}),
        ("POST", "/api/subscription/cancel", {404, 409, 502}),
        ("POST", "/api/payments/{payment_id}/refund", {403, 404, 409, 502}),
    ],
)
def test_domain_errors_are_listed(schema: dict[str, Any], method: str, path: str, statuses: set[int]) -> None:
    assert statuses <= _errors(schema["paths"][path][method.lower()])


def test_every_operation_lists_422_and_503(schema: dict[str, Any]) -> None:
    for method, path, operation in _operations(schema):
        assert {422, 503} <= _errors(operation), (method, path)
