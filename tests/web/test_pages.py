"""The pages over HTTP: they render, and their forms work with the CSRF token they carry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from billhook.accounts.deps import CSRF_COOKIE, SESSION_COOKIE
from billhook.models import OutboxJob
from tests.support.app_harness import TEST_THROTTLE, Harness, harness
from tests.support.forms import form, forms


async def submit(client: httpx.AsyncClient, page: str, action: str, **values: str) -> httpx.Response:
    """GET ``page``, fill the form that posts to ``action`` and submit it, CSRF token included."""
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    found = form(shown.text, action)
    assert found.method == "post"
    assert found.fields["csrf_token"]
    return await client.post(action, data={**found.fields, **values})


async def sign_up(
    h: Harness, email: str = "ada@example.com", password: str = "correct horse"
) -> httpx.Response:
    return await submit(h.client, "/signup", "/signup", email=email, password=password)


PAGES = ["/signup", "/login", "/reset", "/pricing"]


async def test_pages_render_for_anonymous_visitors(h: Harness) -> None:
    for path in PAGES:
        response = await h.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert '<meta name="viewport"' in response.text
        assert "http://" not in response.text and "https://" not in response.text  # no external assets
        for found in forms(response.text):
            if found.method == "post":
                assert found.fields["csrf_token"], (path, found.action)


async def test_signed_in_pages_send_visitors_to_sign_in(h: Harness) -> None:
    for path in ("/account", "/logout"):
        response = await h.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


async def test_signing_up_signs_in_with_a_safe_session_cookie(h: Harness) -> None:
    response = await sign_up(h, email="Ada@Example.com")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    account = await h.client.get("/account")
    assert account.status_code == 200
    assert "ada@example.com" in account.text
    assert '<dd id="role">free</dd>' in account.text
    assert (await h.client.get("/api/me")).json()["email"] == "ada@example.com"


async def test_posts_without_a_valid_csrf_token_are_refused(h: Harness) -> None:
    await h.client.get("/signup")  # the browser has its CSRF cookie
    fields = {"email": "ada@example.com", "password": "correct horse"}
    missing = await h.client.post("/signup", data=fields)
    wrong = await h.client.post("/signup", data={**fields, "csrf_token": "0" * 64})
    for response in (missing, wrong):
        assert response.status_code == 403
        assert "security token" in response.text
    assert (await h.client.post("/api/auth/login", json=fields)).status_code == 401  # nobody was created


async def test_a_token_from_another_browser_is_refused(h: Harness) -> None:
    other = await h.client.get("/signup")
    token = form(other.text, "/signup").fields["csrf_token"]
    h.client.cookies.delete(CSRF_COOKIE)
    await h.client.get("/login")  # a fresh browser with its own nonce
    response = await h.client.post(
        "/signup", data={"email": "a@example.com", "password": "x" * 10, "csrf_token": token}
    )
    assert response.status_code == 403


async def test_signup_errors_are_shown_on_the_form(h: Harness) -> None:
    short = await sign_up(h, password="short")
    assert short.status_code == 422
    assert "at least 8 characters" in short.text
    bad = await sign_up(h, email="not-an-email")
    assert bad.status_code == 422
    await sign_up(h)
    h.client.cookies.clear()
    taken = await sign_up(h, email="ADA@example.com")
    assert taken.status_code == 409
    assert "already exists" in taken.text


async def test_login_goes_to_a_same_origin_next_page(h: Harness) -> None:
    await h.register()
    response = await submit(
        h.client, "/login?next=/pricing", "/login", email="ada@example.com", password="correct horse"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/pricing"


OFF_SITE = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil", ""]


async def test_login_never_redirects_off_site(h: Harness) -> None:
    await h.register()
    for target in OFF_SITE:
        shown = await h.client.get("/login", params={"next": target})
        fields = form(shown.text, "/login").fields
        assert fields["next"] == "/account"
        tampered = {**fields, "next": target, "email": "ada@example.com", "password": "correct horse"}
        response = await h.client.post("/login", data=tampered)
        assert response.headers["location"] == "/account", target


async def test_wrong_passwords_are_shown_then_throttled(h: Harness) -> None:
    await h.register()
    wrong = await submit(h.client, "/login", "/login", email="ada@example.com", password="wrong password")
    assert wrong.status_code == 401
    assert "email or password is incorrect" in wrong.text
    for _ in range(TEST_THROTTLE.account_slow_after):
        await submit(h.client, "/login", "/login", email="ada@example.com", password="wrong password")
    blocked = await submit(h.client, "/login", "/login", email="ada@example.com", password="correct horse")
    assert blocked.status_code == 429
    assert "too many failed sign-in attempts" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 0  # the page says when, as the API's 429 does
    assert "Retry-After" not in wrong.headers


async def test_signing_out_revokes_the_session(h: Harness) -> None:
    await sign_up(h)
    session = h.client.cookies[SESSION_COOKIE]
    response = await submit(h.client, "/logout", "/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?signed_out=1"
    assert "You are signed out." in (await h.client.get("/login?signed_out=1")).text
    h.client.cookies.set(SESSION_COOKIE, session)  # a copied cookie no longer works
    assert (await h.client.get("/api/me")).status_code == 401


async def test_password_reset_by_form_from_request_to_new_password(h: Harness) -> None:
    await h.register()
    sent = await submit(h.client, "/reset", "/reset", email="ada@example.com")
    assert sent.status_code == 202
    assert "Check your email" in sent.text
    async with h.runtime.session_factory() as session:
        job = await session.scalar(
            select(OutboxJob).where(OutboxJob.type == "email.send", OutboxJob.key.like("%password_reset%"))
        )
        assert job is not None
    link = urlsplit(job.payload["context"]["reset_url"])
    page = f"{link.path}?{link.query}"
    changed = await submit(h.client, page, "/reset/confirm", password="a new password")
    assert changed.status_code == 303
    assert changed.headers["location"] == "/login?reset=1"
    assert await h.token(password="a new password")
    again = await submit(h.client, page, "/reset/confirm", password="another new one")
    assert again.status_code == 400
    assert "already used" in again.text
    assert parse_qs(link.query)["token"]


async def test_a_forged_or_expired_reset_link_says_so_at_once(h: Harness) -> None:
    await h.register()
    forged = await h.client.get("/reset?token=abc")
    assert forged.status_code == 400
    assert "not valid" in forged.text
    await h.client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    async with h.runtime.session_factory() as session:
        job = await session.scalar(
            select(OutboxJob).where(OutboxJob.type == "email.send", OutboxJob.key.like("%password_reset%"))
        )
        assert job is not None
    link = urlsplit(job.payload["context"]["reset_url"])
    assert form((await h.client.get(f"{link.path}?{link.query}")).text, "/reset/confirm").fields["token"]
    h.clock.advance(timedelta(hours=2))
    expired = await h.client.get(f"{link.path}?{link.query}")
    assert expired.status_code == 400
    assert "expired" in expired.text


async def test_pricing_cards_post_to_checkout_with_the_product_and_token(h: Harness) -> None:
    page = await h.client.get("/pricing")
    checkout = [f for f in forms(page.text) if f.action == "/checkout/start"]
    by_product = {f.fields["product_id"]: f for f in checkout}
    assert list(by_product)[:4] == ["starter", "pro", "premium_sub", "enterprise_sub"]
    assert all(f.method == "post" and f.fields["csrf_token"] for f in checkout)
    assert by_product["premium_sub"].fields["currency"] == "usd"
    assert "$29.00" in page.text and "/ month" in page.text and "7-day free trial" in page.text
    assert "Subscribe" in page.text and "Buy" in page.text


@pytest.fixture
async def https_h(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url, billhook_base_url="https://billing.example") as built:
        # Browsers send Secure cookies back over https only; so does httpx.
        transport = httpx.ASGITransport(app=built.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            built.client = client
            yield built


async def test_cookies_are_secure_when_the_base_url_is_https(https_h: Harness) -> None:
    response = await sign_up(https_h)
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith(SESSION_COOKIE) and "Secure" in c for c in cookies)
    assert all("Secure" in c for c in (await https_h.client.get("/pricing")).headers.get_list("set-cookie"))
