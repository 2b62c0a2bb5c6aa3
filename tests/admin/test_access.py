"""Who may use the console, and how its forms are protected: 404, sign-in, CSRF, origin, confirm."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from sqlalchemy import func, select

from billhook.admin.pages import router as admin_router
from billhook.models import AuditEntry, OutboxJob, User
from tests.support.admin import csrf_token, dead_job, post_action, signed_in
from tests.support.app_harness import Harness


def admin_routes() -> list[tuple[str, str]]:
    """Every console route, with any path parameter filled in."""
    found = []
    for route in admin_router.routes:
        assert isinstance(route, APIRoute)
        path = re.sub(r"\{[^}]+\}", "x_1", route.path)
        found += [(method, path) for method in sorted(route.methods)]
    return found


async def audit_count(h: Harness) -> int:
    async with h.runtime.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def job_status(h: Harness, job_id: str) -> str:
    async with h.runtime.session_factory() as session:
        job = await session.get(OutboxJob, job_id)
        assert job is not None
        return job.status


async def test_every_route_is_404_for_a_customer_account(h: Harness) -> None:
    customer = await signed_in(h, "ada@example.com")
    routes = admin_routes()
    assert len(routes) >= 15
    for method, path in routes:
        response = await customer.request(method, path, data={"confirm": "yes"})
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        assert "Billhook admin" not in response.text


async def test_signed_out_visitors_are_sent_to_sign_in_and_back(h: Harness) -> None:
    response = await h.client.get("/admin/customers?q=ada")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/customers%3Fq%3Dada"
    for method, path in admin_routes():
        response = await h.client.request(method, path)
        assert response.status_code == 303, (method, path)
        assert response.headers["location"].startswith("/login?next=/admin")


async def test_an_admin_sees_the_console(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    response = await admin.get("/admin/operations")
    assert response.status_code == 200
    assert "Billhook admin" in response.text
    assert '<link rel="stylesheet" href="/admin/static/admin.css">' in response.text
    css = await admin.get("/admin/static/admin.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "overflow-x: auto" in css.text


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    job = await dead_job(h)
    missing = await admin.post("/admin/operations/retry", data={"ids": job.id, "confirm": "yes"})
    wrong = await admin.post(
        "/admin/operations/retry", data={"ids": job.id, "confirm": "yes", "csrf_token": "0" * 64}
    )
    for response in (missing, wrong):
        assert response.status_code == 403
        assert "security token" in response.text
    assert await job_status(h, job.id) == "dead"
    assert await audit_count(h) == 0


async def test_a_post_from_another_origin_is_refused_and_changes_nothing(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    job = await dead_job(h)
    token = await csrf_token(admin)
    data = {"ids": job.id, "confirm": "yes", "csrf_token": token}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/admin"},
        {"Origin": "null"},
    ):
        response = await admin.post("/admin/operations/retry", data=data, headers=headers)
        assert response.status_code == 403, headers
        assert "another site" in response.text or "opaque origin" in response.text
    assert await job_status(h, job.id) == "dead"
    assert await audit_count(h) == 0


async def test_a_post_from_the_base_url_origin_is_accepted(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    job = await dead_job(h)
    origin = h.runtime.settings.billhook_base_url
    data = {"ids": job.id, "confirm": "yes", "csrf_token": await csrf_token(admin)}
    response = await admin.post("/admin/operations/retry", data=data, headers={"Origin": origin})
    assert response.status_code == 303
    assert await job_status(h, job.id) == "pending"


async def test_an_action_without_its_confirmation_is_refused(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    job = await dead_job(h)
    response = await post_action(admin, "/admin/operations/retry", ids=job.id, confirm="")
    assert response.status_code == 422
    assert "I am sure" in response.text
    assert await job_status(h, job.id) == "dead"


async def test_a_token_from_another_browser_is_refused(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    other = await signed_in(h, "ops@example.com", role="admin")
    job = await dead_job(h)
    stolen = await csrf_token(other)
    response = await admin.post(
        "/admin/operations/retry", data={"ids": job.id, "confirm": "yes", "csrf_token": stolen}
    )
    assert response.status_code == 403
    assert await job_status(h, job.id) == "dead"


async def test_an_inactive_admin_is_not_let_in(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    async with h.runtime.session_factory() as session:
        user = await session.scalar(select(User).where(User.email == "root@example.com"))
        assert user is not None
        user.is_active = False
        await session.commit()
    response = await admin.get("/admin/operations")
    assert response.status_code in (303, 404)


async def test_only_an_admin_sees_the_console_link_on_the_site(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    customer = await signed_in(h, "ada@example.com")
    assert '<a href="/admin">Admin</a>' in (await admin.get("/pricing")).text
    assert 'href="/admin"' not in (await customer.get("/pricing")).text
