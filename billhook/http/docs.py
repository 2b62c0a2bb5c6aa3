"""``/docs`` (Swagger UI) and ``/redoc`` served by Billhook itself, so they work without internet.

FastAPI's default pages load their scripts from a CDN; here the assets come from the
``fastapi-offline`` package (MIT; Swagger UI and ReDoc builds, pinned in constraints.txt) and
are served under ``/docs/static``. The OpenAPI document declares how to authenticate — a bearer
token (``Authorization: Bearer <access_token>`` from ``POST /api/auth/login``) or the session
cookie the pages use — on every operation behind the authentication dependency, so Swagger UI's
"Authorize" button takes a token. ``/`` leads a visitor to the pricing page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/docs/static"
REDOC_PATH = "/docs/redoc.standalone.js"
# ReDoc's bundle shows Redocly's logo from its CDN in the sidebar footer, with no option to turn it
# off: the copy served here points that one image at an empty inline SVG instead.
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@lru_cache(maxsize=1)
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle with its only request to another host made local."""
    return (ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, EMPTY_IMAGE)


BEARER, COOKIE = "bearerAuth", "sessionCookie"


def security_schemes(cookie_name: str) -> dict[str, Any]:
    return {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "The access_token from POST /api/auth/login.",
        },
        COOKIE: {
            "type": "apiKey",
            "in": "cookie",
            "name": cookie_name,
            "description": "The pages' sign-in cookie; writes also need the X-CSRF-Token header.",
        },
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def declare_security(app: FastAPI, authentication: Callable[..., Any], cookie_name: str) -> None:
    """Add the two schemes to ``app.openapi()`` and require one of them where ``authentication`` runs."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        components = schema.setdefault("components", {})
        if "securitySchemes" in components:
            return schema
        components["securitySchemes"] = security_schemes(cookie_name)
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            if authentication not in set(_calls(route.dependant)):
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = [{BEARER: []}, {COOKIE: []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs and ReDoc at /redoc from local assets; ``/`` goes to /pricing.

    The app must be created with ``docs_url=None, redoc_url=None`` so these routes are the only ones.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc_script() -> Response:
        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(redoc_bundle(), media_type="text/javascript", headers=headers)

    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            redoc_js_url=REDOC_PATH,
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/pricing", status_code=307)
