"""The account API: ``/api/auth/*`` and ``/api/me``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from billhook.accounts import schemas
from billhook.accounts.deps import (
    AccountsDep,
    AuthDep,
    CacheDep,
    CurrentUser,
    LoginThrottleDep,
    clear_session_cookie,
    client_address,
    csrf_nonce,
    csrf_token_for,
    session_claims,
    set_csrf_cookie,
)
from billhook.accounts.errors import InvalidCredentials
from billhook.accounts.tokens import ACCESS
from billhook.http.deps import RuntimeDep
from billhook.models import User

router = APIRouter(prefix="/api", tags=["accounts"])


def me(user: User) -> schemas.Me:
    return schemas.Me(id=user.id, email=user.email, role=user.role, created_at=user.created_at)


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, summary="Create an account")
async def register(body: schemas.Credentials, accounts: AccountsDep) -> schemas.Me:
    return me(await accounts.sign_up(body.email, body.password))


@router.post("/auth/login", summary="Exchange email and password for a bearer token")
async def login(
    body: schemas.Login,
    request: Request,
    runtime: RuntimeDep,
    accounts: AccountsDep,
    throttle: LoginThrottleDep,
) -> schemas.AccessToken:
    email, address = body.email.strip().lower(), client_address(request)
    await throttle.before_attempt(email, address)
    try:
        user = await accounts.authenticate(email, body.password)
    except InvalidCredentials:
        await throttle.failed(email, address)
        raise
    await throttle.succeeded(email)
    issued = accounts.issue_session(user, runtime.clock.now())
    return schemas.AccessToken(access_token=issued.token, expires_at=issued.claims.expires_at)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke this token")
async def logout(
    auth: AuthDep, runtime: RuntimeDep, accounts: AccountsDep, cache: CacheDep, response: Response
) -> None:
    claims = accounts.signer.read_unexpired_or_not(ACCESS, auth.token)
    if claims is not None:
        await accounts.revoke_session(claims, runtime.clock.now(), cache)
    if auth.via_cookie:
        clear_session_cookie(response, runtime)


@router.post(
    "/auth/password-reset", status_code=status.HTTP_202_ACCEPTED, summary="Email a password reset link"
)
async def password_reset(
    body: schemas.PasswordResetRequest, runtime: RuntimeDep, accounts: AccountsDep, cache: CacheDep
) -> schemas.Accepted:
    await accounts.request_password_reset(
        body.email, base_url=runtime.settings.billhook_base_url, now=runtime.clock.now(), cache=cache
    )
    # The same answer whether or not the address has an account.
    return schemas.Accepted(
        status="accepted", message="if an account exists for this address, a reset link is on its way"
    )


@router.post("/auth/password-reset/confirm", summary="Set a new password with a reset token")
async def password_reset_confirm(
    body: schemas.PasswordResetConfirm, runtime: RuntimeDep, accounts: AccountsDep, throttle: LoginThrottleDep
) -> schemas.Accepted:
    user = await accounts.confirm_password_reset(body.token, body.password, runtime.clock.now())
    await throttle.succeeded(user.email)  # a reset always gets its owner back in at once
    return schemas.Accepted(status="password_changed", message="sign in with the new password")


@router.get("/auth/csrf", summary="A CSRF token for cookie-authenticated API writes")
async def csrf(request: Request, runtime: RuntimeDep, response: Response) -> schemas.CsrfToken:
    nonce, new = csrf_nonce(request)
    if new:
        set_csrf_cookie(response, runtime, nonce)
    token = csrf_token_for(runtime, nonce, session_claims(request, runtime))
    return schemas.CsrfToken(csrf_token=token)


@router.get("/me", summary="The signed-in user")
async def get_me(user: CurrentUser) -> schemas.Me:
    return me(user)
