"""Rendering customer pages: one Jinja2 environment, a CSRF token and the user in every context."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from billhook.accounts.deps import csrf_nonce, csrf_token_for, session_claims, set_csrf_cookie
from billhook.http.deps import get_runtime
from billhook.kit.formatting import format_date, format_datetime, format_money
from billhook.models import User

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# The one money/date formatter (billhook.kit.formatting): {{ amount | money(currency) }}, {{ at | date }}.
templates.env.filters.update(money=format_money, date=format_date, datetime=format_datetime)
DEFAULT_AFTER_LOGIN = "/account"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``pages/<template>`` with ``csrf_token`` and ``user``, setting the CSRF cookie if new."""
    runtime = get_runtime(request)
    nonce, new = csrf_nonce(request)
    token = csrf_token_for(runtime, nonce, session_claims(request, runtime))
    response = templates.TemplateResponse(
        request,
        f"pages/{template}",
        {"csrf_token": token, "user": user, **(context or {})},
        status_code=status_code,
    )
    if new:
        set_csrf_cookie(response, runtime, nonce)
    return response


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def safe_next(target: str | None) -> str:
    """A same-origin relative path to go to after signing in, or the account page.

    Refuses absolute and scheme-relative URLs (``//evil.example``), backslashes (browsers read
    ``/\\evil.example`` as scheme-relative) and control characters: no open redirects.
    """
    if not target or not target.startswith("/") or target.startswith("//") or _CONTROL.search(target):
        return DEFAULT_AFTER_LOGIN
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return DEFAULT_AFTER_LOGIN
    return target
