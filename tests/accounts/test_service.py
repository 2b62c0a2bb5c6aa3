"""Service functions the checkout flow uses: find-or-create by email and the password-set link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.accounts.errors import TokenExpired, TokenUsed
from billhook.accounts.passwords import Passwords
from billhook.accounts.policy import AccountPolicy
from billhook.accounts.service import Accounts
from billhook.accounts.tokens import TokenSigner
from billhook.models import User

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECRET = "s" * 40


def accounts(session: AsyncSession) -> Accounts:
    return Accounts(session, TokenSigner(SECRET), SECRET, AccountPolicy(), Passwords.for_tests())


async def test_find_or_create_makes_one_passwordless_user(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        first, created = await accounts(session).find_or_create_by_email("New@Example.com", name="New")
        again, created_again = await accounts(session).find_or_create_by_email("new@example.com")
        await session.commit()
        assert (created, created_again) == (True, False)
        assert again.id == first.id
        assert (first.email, first.role, first.password_hash) == ("new@example.com", "free", None)
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_find_or_create_finds_a_user_committed_by_another_session(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as first_session:
        first, _ = await accounts(first_session).find_or_create_by_email("race@example.com")
        await first_session.commit()
    async with session_factory() as session:
        found, created = await accounts(session).find_or_create_by_email(" RACE@example.com ")
        assert (found.id, created) == (first.id, False)


async def test_the_password_set_link_works_once_and_expires(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        service = accounts(session)
        user, _ = await service.find_or_create_by_email("welcome@example.com")
        link = service.password_link(user, base_url="https://b.example", now=NOW, ttl=timedelta(days=3))
        assert link.url.startswith("https://b.example/reset?token=")
        token = parse_qs(urlsplit(link.url).query)["token"][0]
        with pytest.raises(TokenExpired):
            await service.confirm_password_reset(token, "first password", NOW + timedelta(days=3, seconds=1))
        await service.confirm_password_reset(token, "first password", NOW + timedelta(days=1))
        with pytest.raises(TokenUsed):
            await service.confirm_password_reset(token, "second password", NOW + timedelta(days=1))
        assert (await service.authenticate("welcome@example.com", "first password")).id == user.id
