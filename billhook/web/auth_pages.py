"""``/signup``, ``/login``, ``/logout`` and ``/reset``: the account forms, with a cookie session.

Every POST checks the form's ``csrf_token`` first (403 page without it). Errors re-render the
form with the message and the status an API would give (401, 409, 422, 429, 400).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from billhook.accounts.deps import (
    CSRF_FIELD,
    AccountsDep,
    CacheDep,
    LoginThrottleDep,
    OptionalAuthDep,
    clear_session_cookie,
    client_address,
    csrf_valid,
    session_claims,
    set_session_cookie,
)
from billhook.accounts.errors import BadToken, EmailTaken, InvalidCredentials, LoginThrottled
from billhook.accounts.service import Accounts, check_password_policy, normalize_email
from billhook.accounts.tokens import PASSWORD_RESET
from billhook.errors import InvalidInput
from billhook.http.deps import RuntimeDep
from billhook.models import User
from billhook.runtime import Runtime
from billhook.web.rendering import redirect, render, safe_next

router = APIRouter(tags=["pages"], include_in_schema=False)


async def form_fields(request: Request, runtime: Runtime) -> dict[str, str] | HTMLResponse:
    """The submitted form as strings, or the 403 page when its CSRF token is missing or wrong."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not csrf_valid(request, runtime, fields.get(CSRF_FIELD)):
        return render(
            request,
            "error.html",
            {
                "title": "Form expired",
                "message": "This form is missing its security token or it has expired. "
                "Go back, reload the page and try again.",
            },
            status_code=403,
        )
    return fields


def signed_in(response: Response, runtime: Runtime, accounts: Accounts, user: User) -> Response:
    issued = accounts.issue_session(user, runtime.clock.now())
    set_session_cookie(response, runtime, issued.token, issued.claims)
    return response


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request, auth: OptionalAuthDep, next: str | None = None) -> Response:
    return render(request, "signup.html", {"next": safe_next(next)}, user=auth.user if auth else None)


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request, runtime: RuntimeDep, accounts: AccountsDep) -> Response:
    fields = await form_fields(request, runtime)
    if isinstance(fields, HTMLResponse):
        return fields
    email, target = fields.get("email", ""), safe_next(fields.get("next"))
    context = {"email": email, "next": target}
    try:
        check_password_policy(fields.get("password", ""))
        user = await accounts.sign_up(normalize_email(email), fields.get("password", ""))
    except (InvalidInput, EmailTaken) as exc:
        return render(request, "signup.html", {**context, "error": exc.message}, status_code=exc.status_code)
    return signed_in(redirect(target), runtime, accounts, user)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, auth: OptionalAuthDep, next: str | None = None) -> Response:
    notice = {"signed_out": "You are signed out.", "reset": "Password changed: sign in with it."}
    shown = [text for key, text in notice.items() if key in request.query_params]
    context = {"next": safe_next(next), "notice": shown[0] if shown else None}
    return render(request, "login.html", context, user=auth.user if auth else None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, runtime: RuntimeDep, accounts: AccountsDep, throttle: LoginThrottleDep
) -> Response:
    fields = await form_fields(request, runtime)
    if isinstance(fields, HTMLResponse):
        return fields
    email, address = fields.get("email", "").strip().lower(), client_address(request)
    context = {"email": email, "next": safe_next(fields.get("next"))}
    try:
        await throttle.before_attempt(email, address)
        try:
            user = await accounts.authenticate(email, fields.get("password", ""))
        except InvalidCredentials:
            await throttle.failed(email, address)
            raise
    except (InvalidCredentials, LoginThrottled) as exc:
        page = render(request, "login.html", {**context, "error": exc.message}, status_code=exc.status_code)
        retry_after = exc.details.get("retry_after_seconds")
        if retry_after is not None:  # the same header the API's 429 carries
            page.headers["Retry-After"] = str(retry_after)
        return page
    await throttle.succeeded(email)
    return signed_in(redirect(context["next"]), runtime, accounts, user)


@router.get("/logout", response_class=HTMLResponse)
async def logout_page(request: Request, auth: OptionalAuthDep) -> Response:
    if auth is None:
        return redirect("/login")
    return render(request, "logout.html", user=auth.user)


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request, runtime: RuntimeDep, accounts: AccountsDep, cache: CacheDep) -> Response:
    fields = await form_fields(request, runtime)
    if isinstance(fields, HTMLResponse):
        return fields
    claims = session_claims(request, runtime)
    if claims is not None:
        await accounts.revoke_session(claims, runtime.clock.now(), cache)
    response = redirect("/login?signed_out=1")
    clear_session_cookie(response, runtime)
    return response


@router.get("/reset", response_class=HTMLResponse)
async def reset_page(
    request: Request, runtime: RuntimeDep, accounts: AccountsDep, token: str | None = None
) -> Response:
    if not token:
        return render(request, "reset_request.html")
    try:  # a forged or expired link is told at once; a used one when submitted
        accounts.signer.read(PASSWORD_RESET, token, runtime.clock.now())
    except BadToken as exc:
        return render(request, "reset_request.html", {"error": exc.message}, status_code=exc.status_code)
    return render(request, "reset_confirm.html", {"token": token})


@router.post("/reset", response_class=HTMLResponse)
async def reset_request(
    request: Request, runtime: RuntimeDep, accounts: AccountsDep, cache: CacheDep
) -> Response:
    fields = await form_fields(request, runtime)
    if isinstance(fields, HTMLResponse):
        return fields
    await accounts.request_password_reset(
        fields.get("email", ""),
        base_url=runtime.settings.billhook_base_url,
        now=runtime.clock.now(),
        cache=cache,
    )
    return render(request, "reset_sent.html", status_code=202)


@router.post("/reset/confirm", response_class=HTMLResponse)
async def reset_confirm(
    request: Request, runtime: RuntimeDep, accounts: AccountsDep, throttle: LoginThrottleDep
) -> Response:
    fields = await form_fields(request, runtime)
    if isinstance(fields, HTMLResponse):
        return fields
    token = fields.get("token", "")
    try:
        user = await accounts.confirm_password_reset(token, fields.get("password", ""), runtime.clock.now())
    except (InvalidInput, BadToken) as exc:
        template = "reset_confirm.html" if isinstance(exc, InvalidInput) else "reset_request.html"
        context = {"token": token, "error": exc.message}
        return render(request, template, context, status_code=exc.status_code)
    await throttle.succeeded(user.email)  # a reset always gets its owner back in at once
    return redirect("/login?reset=1")
