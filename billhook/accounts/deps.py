"""FastAPI dependencies for the signed-in user, shared by every router and page.

A request is authenticated by ``Authorization: Bearer <token>`` or by the ``billhook_session``
cookie. A bearer header is never sent by a browser on its own, so only cookie-authenticated
writes need a CSRF token: ``X-CSRF-Token`` for the API, the ``csrf_token`` form field for pages.
The token is an HMAC of a random per-browser nonce (cookie ``billhook_csrf``) and the session id,
so it is bound to the session once signed in (OWASP CSRF cheat sheet, "signed double-submit").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from billhook.accounts.errors import CsrfRejected, Forbidden
from billhook.accounts.passwords import Passwords
from billhook.accounts.policy import account_policy
from billhook.accounts.service import Accounts
from billhook.accounts.throttle import LoginThrottle
from billhook.accounts.tokens import ACCESS, TokenClaims, TokenSigner
from billhook.cache import BillhookCache
from billhook.config import Environment
from billhook.errors import NotFound, Unauthorized, Unavailable
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.models import User
from billhook.runtime import Runtime

SESSION_COOKIE = "billhook_session"
CSRF_COOKIE = "billhook_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_cache(runtime: RuntimeDep) -> BillhookCache:
    """The runtime's cache (``Runtime.cache``, built by :func:`billhook.cache.build_cache`)."""
    if runtime.cache is None:
        raise Unavailable("the cache is not configured (Runtime.cache)")
    return runtime.cache


CacheDep = Annotated[BillhookCache, Depends(get_cache)]


_PASSWORDS = Passwords()


def get_passwords() -> Passwords:
    """The process's argon2 parameters (tests override this with ``Passwords.for_tests()``)."""
    return _PASSWORDS


def accounts_for(
    session: SessionDep, runtime: RuntimeDep, hasher: Annotated[Passwords, Depends(get_passwords)]
) -> Accounts:
    settings = runtime.settings
    signer = TokenSigner(settings.secret_key)
    return Accounts(session, signer, settings.secret_key, account_policy(settings), hasher)


AccountsDep = Annotated[Accounts, Depends(accounts_for)]


def get_login_throttle(runtime: RuntimeDep, cache: CacheDep) -> LoginThrottle:
    return LoginThrottle(cache, account_policy(runtime.settings).throttle, runtime.clock)


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


def client_address(request: Request) -> str:
    """The peer address (uvicorn's ``--proxy-headers`` puts the forwarded one here)."""
    return request.client.host if request.client else "unknown"


# -- sessions and CSRF --------------------------------------------------------------------------


def session_claims(request: Request, runtime: Runtime) -> TokenClaims | None:
    """The well-signed session cookie's claims (expired or not), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return TokenSigner(runtime.settings.secret_key).read_unexpired_or_not(ACCESS, token)


def csrf_nonce(request: Request) -> tuple[str, bool]:
    """The browser's CSRF nonce and whether it is new (then the caller must set the cookie)."""
    nonce = request.cookies.get(CSRF_COOKIE)
    if nonce and 16 <= len(nonce) <= 64:
        return nonce, False
    return secrets.token_urlsafe(24), True


def csrf_token_for(runtime: Runtime, nonce: str, claims: TokenClaims | None) -> str:
    binding = claims.token_id if claims else ""
    message = f"csrf|{nonce}|{binding}".encode()
    return hmac.new(runtime.settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of ``url`` (default ports spelled out), or None when it has none."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def same_origin(request: Request, runtime: Runtime) -> bool:
    """The request comes from a page of ``BILLHOOK_BASE_URL``'s origin, by ``Origin`` or ``Referer``.

    Browsers send ``Origin`` with every cross-origin unsafe request (the Fetch standard), so a
    foreign or opaque (``null``) one is refused even with a valid CSRF token. A request with
    neither header does not come from a cross-site browser context (e.g. a script holding a
    cookie); the CSRF token alone decides (OWASP's CSRF cheat sheet: verify the origin with
    standard headers *and* use a token).
    """
    expected = origin_of(runtime.settings.billhook_base_url)
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is not None:
            return origin_of(value) == expected
    return True


def csrf_valid(request: Request, runtime: Runtime, submitted: str | None) -> bool:
    """A same-origin request carrying the CSRF token bound to this browser (and its session)."""
    if not same_origin(request, runtime):
        return False
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not submitted:
        return False
    expected = csrf_token_for(runtime, nonce, session_claims(request, runtime))
    return hmac.compare_digest(expected, submitted)


def is_https(runtime: Runtime) -> bool:
    """Cookies are ``Secure`` over https and always in production (which is https only)."""
    settings = runtime.settings
    production = settings.billhook_env is Environment.PRODUCTION
    return production or settings.billhook_base_url.startswith("https://")


def set_csrf_cookie(response: Response, runtime: Runtime, nonce: str) -> None:
    response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax", secure=is_https(runtime), path="/")


def set_session_cookie(response: Response, runtime: Runtime, token: str, claims: TokenClaims) -> None:
    max_age = int((claims.expires_at - runtime.clock.now()).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(max_age, 0),
        httponly=True,
        samesite="lax",
        secure=is_https(runtime),
        path="/",
    )


def clear_session_cookie(response: Response, runtime: Runtime) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=is_https(runtime), path="/")


# -- the signed-in user -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: User
    token: str
    via_cookie: bool


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <access_token>'")
    return token.strip()


async def optional_authentication(
    request: Request, runtime: RuntimeDep, accounts: AccountsDep, cache: CacheDep
) -> Authenticated | None:
    """Who is calling, or None for anonymous. A bad bearer token is 401, a bad cookie is anonymous."""
    bearer = _bearer(request)
    now = runtime.clock.now()
    if bearer is not None:
        return Authenticated(await accounts.user_for_session(bearer, now, cache), bearer, False)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        user = await accounts.user_for_session(cookie, now, cache)
    except Unauthorized:
        return None
    return Authenticated(user, cookie, True)


OptionalAuthDep = Annotated[Authenticated | None, Depends(optional_authentication)]


async def authentication(request: Request, runtime: RuntimeDep, auth: OptionalAuthDep) -> Authenticated:
    """The caller, required: 401 when anonymous, 403 for a cookie write without its CSRF token."""
    if auth is None:
        raise Unauthorized("sign in first: send 'Authorization: Bearer <access_token>'")
    cookie_write = auth.via_cookie and request.method not in SAFE_METHODS
    if cookie_write and not same_origin(request, runtime):
        raise CsrfRejected("a cookie-authenticated write must come from this service's own origin")
    if cookie_write and not csrf_valid(request, runtime, request.headers.get(CSRF_HEADER)):
        raise CsrfRejected("missing or invalid CSRF token (send it in the X-CSRF-Token header)")
    return auth


AuthDep = Annotated[Authenticated, Depends(authentication)]


async def current_user(auth: AuthDep) -> User:
    return auth.user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str) -> Callable[[User], Awaitable[User]]:
    """A dependency admitting users with one of ``roles`` (``admin`` is always admitted)."""
    allowed = frozenset(roles) | {"admin"}

    async def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"this needs the {' or '.join(sorted(allowed))} role")
        return user

    return dependency


async def admin_only(user: CurrentUser) -> User:
    """Admins only, and the route does not exist for anyone else: 401 when anonymous (as every
    API route), 404 for a signed-in user without the admin role (no probing of admin routes)."""
    if user.role != "admin" or not user.is_active:
        raise NotFound("Not Found")
    return user


AdminOnly = Annotated[User, Depends(admin_only)]
