"""The console's pages: search, lists and pagination, the customer page, and the operations actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from billhook.models import AuditEntry, Customer, EmailMessage, OutboxJob, Payment, User
from tests.support import analytics_factories as analytics
from tests.support import entitlement_factories as factories
from tests.support.admin import dead_job, failed_email, inbox_event, payment, post_action, signed_in
from tests.support.app_harness import Harness

CUSTOMER_LINK = re.compile(r'href="/admin/customers/(cus_[^"]+)"')
NEXT_PAGE = re.compile(r'href="([^"]+)" rel="next"')


async def add_customers(h: Harness, count: int) -> list[Customer]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        Customer(stripe_id=f"cus_bulk{i:03d}", email=f"bulk{i:03d}@example.com", name=f"Bulk {i}",
                 created_at=base + timedelta(minutes=i // 2))  # pairs share a created_at: ids break ties
        for i in range(count)
    ]  # fmt: skip
    async with h.runtime.session_factory() as session:
        session.add_all(rows)
        await session.commit()
    return rows


async def test_search_finds_a_customer_by_email_name_and_provider_id(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    async with h.runtime.session_factory() as session:
        ada = Customer(stripe_id="cus_ADA123", email="Ada.Lovelace@example.com", name="Ada Lovelace")
        grace = Customer(stripe_id="cus_GRACE9", email="grace@example.com", name="Grace Hopper")
        session.add_all([ada, grace])
        await session.commit()
    for query in ("ada.lovelace@example.com", "ADA.LOVE", "lovelace", "cus_ADA123"):
        page = await admin.get("/admin/customers", params={"q": query})
        assert page.status_code == 200
        assert CUSTOMER_LINK.findall(page.text) == [ada.id], query
    nobody = await admin.get("/admin/customers", params={"q": "100%_"})
    assert nobody.status_code == 200 and CUSTOMER_LINK.findall(nobody.text) == []


async def test_customers_page_through_every_row_once(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    rows = await add_customers(h, 57)
    first = await admin.get("/admin/customers")
    seen = CUSTOMER_LINK.findall(first.text)
    assert len(seen) == 50
    link = NEXT_PAGE.search(first.text)
    assert link is not None
    second = await admin.get(link.group(1).replace("&amp;", "&"))
    more = CUSTOMER_LINK.findall(second.text)
    assert NEXT_PAGE.search(second.text) is None
    assert sorted(seen + more) == sorted(row.id for row in rows)
    newest_first = sorted(rows, key=lambda row: (row.created_at, row.id), reverse=True)
    assert seen + more == [row.id for row in newest_first]


async def test_lists_filter_by_status_currency_and_date(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    await payment(h, amount=4900, description="usd paid")
    async with h.runtime.session_factory() as session:
        session.add(Payment(amount=2700, currency="eur", status="SUCCEEDED", description="eur paid"))
        session.add(Payment(amount=900, currency="usd", status="FAILED", description="usd failed",
                            failure_message="card declined"))  # fmt: skip
        await session.commit()
    everything = await admin.get("/admin/payments")
    assert all(text in everything.text for text in ("$49.00", "€27.00", "$9.00"))
    failed = await admin.get("/admin/payments", params={"status": "FAILED"})
    assert "card declined" in failed.text and "$49.00" not in failed.text
    euros = await admin.get("/admin/payments", params={"currency": "EUR"})
    assert "€27.00" in euros.text and "$49.00" not in euros.text
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    later = await admin.get("/admin/payments", params={"from": tomorrow})
    assert 'id="empty"' in later.text


async def test_bad_filters_are_refused_with_a_message(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    cases = {
        "/admin/payments?status=LOST": "status",
        "/admin/subscriptions?currency=dollars": "currency",
        "/admin/invoices?from=yesterday": "from",
        "/admin/orders?from=2026-12-02&to=2026-12-01": "from",
        "/admin/payments?cursor=not-a-cursor": "cursor",
    }
    for url, field in cases.items():
        response = await admin.get(url)
        assert response.status_code == 422, url
        assert f"{field}:" in response.text, url


async def test_a_filter_a_list_cannot_apply_is_ignored_and_said(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    response = await admin.get("/admin/bookings", params={"plan": "premium_sub"})
    assert response.status_code == 200
    assert 'id="ignored"' in response.text


async def test_garbage_never_gets_a_500(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    urls = [
        "/admin/customers/%00", "/admin/customers/" + "x" * 5000, "/admin/customers/cus_%E2%9C%93",
        "/admin/customers?q=%00", "/admin/customers?q=" + "a" * 500, "/admin/customers?cursor=%FF%FE",
        "/admin/payments?cursor=" + "A" * 300, "/admin/payments?from=9999-99-99", "/admin/orders?plan=%00",
        "/admin/subscriptions?status=%27;drop", "/admin/customers/../../etc/passwd", "/admin/nope",
    ]  # fmt: skip
    for url in urls:
        response = await admin.get(url)
        assert response.status_code < 500, (url, response.status_code)
        assert response.status_code in (200, 404, 422), (url, response.status_code)
    posts = {
        "/admin/operations/retry": {"ids": "\x00"},
        "/admin/operations/resend": {"ids": "msg_" + "9" * 300},
        "/admin/operations/replay": {},
        "/admin/operations/reconcile": {"hours": "-1"},
        "/admin/payments/%00/refund": {"amount": "NaN", "reason": "x"},
        "/admin/subscriptions/sub_nope/cancel": {"when": "yesterday"},
    }
    for url, data in posts.items():
        response = await post_action(admin, url, **data)
        assert response.status_code in (404, 409, 422, 503), (url, response.status_code, response.text[:300])


async def test_a_dead_job_is_retried_from_the_page_and_the_admin_is_named(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    job = await dead_job(h, job_type="fulfilment.grant")
    shown = await admin.get("/admin/operations")
    assert f'id="job-{job.id}"' in shown.text
    response = await post_action(admin, "/admin/operations/retry", ids=job.id)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/operations?done=retry&n=1"
    async with h.runtime.session_factory() as session:
        retried = await session.get(OutboxJob, job.id)
        assert retried is not None and (retried.status, retried.attempts) == ("pending", 0)
        root = await session.scalar(select(User).where(User.email == "root@example.com"))
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.subject_id == job.id))
    assert root is not None and entry is not None
    assert (entry.action, entry.actor) == ("outbox.job_retried", f"admin:{root.id}")
    after = await admin.get(response.headers["location"])
    assert "Queued 1 dead job(s) again." in after.text


async def test_retrying_refuses_the_whole_batch_when_one_job_is_not_dead(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    dead = await dead_job(h)
    done = await dead_job(h)
    async with h.runtime.session_factory() as session:
        row = await session.get(OutboxJob, done.id)
        assert row is not None
        row.status = "done"
        await session.commit()
    response = await post_action(admin, "/admin/operations/retry", ids=[dead.id, done.id])
    assert response.status_code == 409
    assert "only dead jobs" in response.text
    async with h.runtime.session_factory() as session:
        assert (await session.get(OutboxJob, dead.id)).status == "dead"  # type: ignore[union-attr]
        assert await session.scalar(select(AuditEntry.id)) is None


async def test_a_failed_email_is_sent_again_through_its_own_job(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    message, job = await failed_email(h)
    response = await post_action(admin, "/admin/operations/resend", ids=message.id)
    assert response.status_code == 303
    async with h.runtime.session_factory() as session:
        assert (await session.get(EmailMessage, message.id)).status == "queued"  # type: ignore[union-attr]
        assert (await session.get(OutboxJob, job.id)).status == "pending"  # type: ignore[union-attr]
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.subject_id == message.id))
    assert entry is not None and entry.actor.startswith("admin:usr_")
    again = await post_action(admin, "/admin/operations/resend", ids=message.id)
    assert again.status_code == 409


async def test_the_operations_page_puts_problems_first(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    dead = await inbox_event(h, status="dead")
    await inbox_event(h, status="processed")
    message, _ = await failed_email(h)
    page = await admin.get("/admin/operations")
    problems = page.text.split('id="problem-events-table"')[1].split("</table>")[0]
    assert dead.event_id in problems and "provider down" in problems
    assert message.id in page.text.split('id="failed-emails-table"')[1].split("</table>")[0]


async def test_replay_without_a_provider_is_unavailable_not_a_crash(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    event = await inbox_event(h)
    response = await post_action(admin, "/admin/operations/replay", ids=event.id)
    assert response.status_code == 503
    unknown = await post_action(admin, "/admin/operations/replay", ids="evt_unknown")
    assert unknown.status_code == 404 and "evt_unknown" in unknown.text


async def test_the_customer_page_shows_access_and_why(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    async with h.runtime.session_factory() as session:
        owner = await factories.user(session, "ada@example.com")
        customer = await factories.customer(session, owner)
        await factories.subscription(session, status="active", customer=customer, owner=owner)
        session.add(AuditEntry(action="subscription.created", actor="webhook", subject_type="subscription",
                               subject_id="sub_1", customer_id=customer.id, message="created"))  # fmt: skip
        await session.commit()
    page = await admin.get(f"/admin/customers/{customer.id}")
    assert page.status_code == 200
    assert '<dd id="access-role">premium</dd>' in page.text
    reasons = page.text.split('id="reasons-table"')[1].split("</table>")[0]
    assert "premium_sub" in reasons and "active" in reasons
    assert "subscription.created" in page.text.split('id="audit-table"')[1]
    assert 'action="/admin/subscriptions/' in page.text  # a live subscription can be canceled here
    missing = await admin.get("/admin/customers/cus_nobody")
    assert missing.status_code == 404


async def test_the_overview_shows_the_figures_and_inline_charts_without_script(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    page = await admin.get("/admin", params={"period": "quarter", "interval": "week", "currency": "eur"})
    assert page.status_code == 200
    for figure in ("mrr", "arr", "trial-mrr", "movement-net-new", "net-revenue-retention", "recovery-rate"):
        assert f'id="{figure}"' in page.text
    assert '<dd id="mrr">€0.00</dd>' in page.text
    assert page.text.count("<svg") == 4
    assert "<script" not in page.text
    assert "src=" not in page.text and "@import" not in page.text


async def test_churned_customers_who_joined_in_the_period_are_counted_apart(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    now = h.runtime.clock.now()
    async with h.runtime.session_factory() as session:
        joined, left = now - timedelta(days=5), now - timedelta(days=2)
        await analytics.sync(session, analytics.subscription("sub_brief", "cus_brief", start=joined))
        brief = analytics.subscription("sub_brief", "cus_brief", "canceled", start=joined, ended_at=left)
        await analytics.sync(session, brief)
        await session.commit()
    page = await admin.get("/admin", params={"period": "30d", "currency": "usd"})
    assert page.status_code == 200, page.text
    assert '<dd id="churned-customers">0 of 0, and 1 who joined in the period</dd>' in page.text


async def test_the_overview_is_cached_for_its_period_interval_and_currency(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    query = {"period": "quarter", "interval": "week", "currency": "eur"}
    assert '<dd id="mrr">€0.00</dd>' in (await admin.get("/admin", params=query)).text
    async with h.runtime.session_factory() as session:
        started = h.runtime.clock.now() - timedelta(days=1)
        new = analytics.subscription("sub_eur", "cus_eur", amount=4200, currency="eur", start=started)
        await analytics.sync(session, new)
        await session.commit()
    cached = await admin.get("/admin", params=query)  # at most 30 s old: the same figures
    fresh = await admin.get("/admin", params=query | {"interval": "month"})
    assert '<dd id="mrr">€0.00</dd>' in cached.text
    assert '<dd id="mrr">€42.00</dd>' in fresh.text


async def test_the_overview_refuses_a_bad_period_with_a_message(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    cases = [
        {"period": "decade"},
        {"period": "custom"},
        {"period": "custom", "from": "2026-13-01"},
        {"period": "custom", "from": "2026-12-01", "to": "2026-11-01"},
        {"interval": "hour"},
        {"currency": "dollars"},
        {"period": "custom", "from": "2000-01-01", "to": "2026-01-01", "interval": "day"},
    ]
    for params in cases:
        response = await admin.get("/admin", params=params)
        assert response.status_code == 422, params
        assert 'id="error"' in response.text
    ignored = await admin.get("/admin", params={"period": "month", "from": "2026-01-01"})
    assert ignored.status_code == 200 and 'id="ignored"' in ignored.text


async def test_the_customer_page_lists_the_emails_sent_to_them_only(h: Harness) -> None:
    admin = await signed_in(h, "root@example.com", role="admin")
    async with h.runtime.session_factory() as session:
        customer = Customer(stripe_id="cus_EMAILS", email="a_b@example.com", name="Ada")
        session.add(customer)
        await session.commit()
    await failed_email(h, to="Ada <a_b@example.com>")
    await failed_email(h, to="Bob <axb@example.com>")  # "_" is a LIKE wildcard: must not match
    page = await admin.get(f"/admin/customers/{customer.id}")
    emails = page.text.split('id="emails-table"')[1].split("</table>")[0]
    assert emails.count("<tr>") == 2  # the header and Ada's one message
    assert "refused" in emails
