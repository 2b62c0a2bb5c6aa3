"""The console's shell: who may enter, how its forms are checked, and how its pages are drawn.

- **Who.** Only an active user with the ``admin`` role. A signed-out visitor is sent to sign in
  (303 to ``/login?next=…``); anyone else signed in gets the site's ordinary 404 page, so the
  console's existence is not revealed (the same rule as the API's "404, never 403").
- **Forms.** Every POST must come from the console itself: when the browser names its origin
  (``Origin``, else ``Referer``) it must be ``BILLHOOK_BASE_URL``'s (OWASP CSRF cheat sheet,
  "verifying origin with standard headers"), and the form must carry the session-bound CSRF
  token the pages render (:mod:`billhook.accounts.deps`). Both failures are 403 and change nothing.
  Every action also needs its "I am sure" box ticked (checked again here: no JavaScript needed).
- **Errors.** :class:`AdminRoute` turns any :class:`BillhookError` (raised by a dependency, a
  form check or a service) into an HTML page with the error's status. The request's session
  dependency has already rolled back by then, so a refused action leaves nothing half-done.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from billhook.accounts.deps import (
    CSRF_FIELD,
    OptionalAuthDep,
    csrf_nonce,
    csrf_token_for,
    csrf_valid,
    origin_of,
    same_origin,
    session_claims,
    set_csrf_cookie,
)
from billhook.accounts.errors import CsrfRejected
from billhook.errors import BillhookError, InvalidInput
from billhook.http.deps import get_runtime
from billhook.kit.formatting import format_date, format_datetime, format_money
from billhook.logging import get_logger
from billhook.models import User
from billhook.web import rendering as web

log = get_logger(__name__)
ADMIN_ROLE = "admin"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(money=format_money, date=format_date, datetime=format_datetime)


class SignedOut(Exception):
    """No session: the visitor is sent to sign in and brought back."""


class NotAdmin(Exception):
    """Signed in without the admin role: the console does not exist for them (404)."""


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: User | None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``admin/<template>`` with ``csrf_token``, ``user`` and the current ``section``."""
    runtime = get_runtime(request)
    nonce, new = csrf_nonce(request)
    token = csrf_token_for(runtime, nonce, session_claims(request, runtime))
    values = {"csrf_token": token, "user": user, "section": _section(request.url.path), **(context or {})}
    response = templates.TemplateResponse(request, f"admin/{template}", values, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    if new:
        set_csrf_cookie(response, runtime, nonce)
    return response


def _section(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:3]) if len(parts) > 2 else "/admin"


def error_page(request: Request, exc: BillhookError, back: str | None = None) -> HTMLResponse:
    # A bare BillhookError is a missing dependency (no provider configured), not the caller's
    # fault and not a crash: 503, never 500.
    status = 503 if exc.status_code == 500 else exc.status_code
    titles = {403: "Refused", 404: "Not found", 409: "Not possible now", 422: "Check the form"}
    title = titles.get(status, "Could not do that")
    return page(request, "error.html", {"title": title, "message": exc.message, "back": back},
                user=None, status_code=status)  # fmt: skip


def not_found_page(request: Request) -> HTMLResponse:
    """The site's ordinary 404 page: nothing says an admin console lives here."""
    context = {"title": "Not found", "message": "There is no page at this address."}
    return web.render(request, "error.html", context, status_code=404)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(web.safe_next(target), safe='/')}", status_code=303)


class AdminRoute(APIRoute):
    """A route whose refusals and errors are HTML pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignedOut:
                return sign_in_redirect(request)
            except NotAdmin:
                return not_found_page(request)
            except BillhookError as exc:
                if exc.status_code >= 500:
                    log.warning("admin_action_failed", code=exc.code, error=exc.message)
                return error_page(request, exc, back=_back(request))
            except RequestValidationError:
                return error_page(request, InvalidInput("the request is not one this console sends"))

        return guarded


def _back(request: Request) -> str | None:
    """Where "Go back" leads: the referring console page, if it is one."""
    stated = request.headers.get("referer", "")
    referer = urlsplit(stated)
    base = get_runtime(request).settings.billhook_base_url
    if referer.path.startswith("/admin") and origin_of(stated) == origin_of(base):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return None


async def admin_user(auth: OptionalAuthDep) -> User:
    if auth is None:
        raise SignedOut
    if auth.user.role != ADMIN_ROLE or not auth.user.is_active:
        raise NotAdmin
    return auth.user


AdminDep = Annotated[User, Depends(admin_user)]


def check_origin(request: Request) -> None:
    """``Origin`` (or, without it, ``Referer``) must be the base URL's origin when present; checked
    before the form is read, with a message that says which (the CSRF check repeats it)."""
    if request.headers.get("origin") == "null":
        raise CsrfRejected("this form was sent from an opaque origin; use the console's own pages")
    if not same_origin(request, get_runtime(request)):
        raise CsrfRejected("this form was sent from another site; use the console's own pages")


async def action_form(request: Request) -> FormData:
    """The submitted form of an admin action, once its origin, CSRF token and confirmation pass."""
    check_origin(request)
    try:
        form = await request.form(max_files=0, max_fields=500)
    except Exception:  # a malformed or oversized body: starlette raises several types
        raise InvalidInput("the form could not be read") from None
    token = form.get(CSRF_FIELD)
    if not csrf_valid(request, get_runtime(request), token if isinstance(token, str) else None):
        raise CsrfRejected(
            "this form is missing its security token or it has expired; reload the page and try again"
        )
    if form.get("confirm") != "yes":
        raise InvalidInput("tick “I am sure” to confirm the action", field="confirm")
    return form


def text(form: FormData, name: str, *, limit: int = 1000) -> str:
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: expected text", field=name)
    if len(value) > limit:
        raise InvalidInput(f"{name}: at most {limit} characters", field=name)
    return value.strip()


def texts(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)
