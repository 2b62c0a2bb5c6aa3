"""``billhook users`` and ``billhook products``: create, set roles, list; one-line errors."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billhook.accounts.passwords import Passwords
from billhook.cli.products import app as products_app
from billhook.cli.users import app as users_app
from billhook.db import create_engine, create_session_factory
from billhook.models import User
from tests.support.app_harness import EXAMPLE_CATALOG

runner = CliRunner()


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    return {
        "DATABASE_URL": database_url,
        "BILLHOOK_AUTO_MIGRATE": "false",
        "BILLHOOK_CATALOG": str(EXAMPLE_CATALOG),
        "STRIPE_PRICE_PREMIUM_SUB": "price_env_premium",
    }


def stored_user(database_url: str, email: str) -> User | None:
    async def read() -> User | None:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                return await session.scalar(
                    User.__table__.select().where(User.email == email).with_only_columns(User)
                )  # type: ignore[no-any-return]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_create_admin_generates_and_prints_a_password(env: dict[str, str], database_url: str) -> None:
    result = runner.invoke(users_app, ["create-admin", "Root@Example.com"], env=env)
    assert result.exit_code == 0, result.output
    assert "created admin root@example.com" in result.output
    password = result.output.split("password: ", 1)[1].strip()
    assert len(password) >= 16
    user = stored_user(database_url, "root@example.com")
    assert user is not None
    assert user.role == "admin"
    assert Passwords().verify(user.password_hash, password)


def test_create_with_role_and_password_then_list(env: dict[str, str]) -> None:
    created = runner.invoke(
        users_app, ["create", "coach@example.com", "--role", "coach", "--password", "coach pass 1"], env=env
    )
    assert created.exit_code == 0, created.output
    assert "password:" not in created.output
    listed = runner.invoke(users_app, ["list"], env=env)
    assert listed.exit_code == 0
    assert re.search(r"coach@example.com +coach +", listed.output), listed.output


def test_set_role_changes_the_role(env: dict[str, str], database_url: str) -> None:
    runner.invoke(users_app, ["create", "ada@example.com", "--password", "correct horse"], env=env)
    result = runner.invoke(users_app, ["set-role", "ADA@example.com", "premium"], env=env)
    assert result.exit_code == 0, result.output
    assert "ada@example.com is now premium" in result.output
    user = stored_user(database_url, "ada@example.com")
    assert user is not None and user.role == "premium"


MISTAKES = [
    (["set-role", "nobody@example.com", "admin"], "error: no user with email nobody@example.com"),
    (
        ["set-role", "ada@example.com", "emperor"],
        "error: unknown role 'emperor'; use one of: free, coach, admin",
    ),
    (
        ["create", "ada@example.com", "--password", "correct horse"],
        "error: an account with ada@example.com already",
    ),
    (["create", "bob@example.com", "--password", "short"], "error: password: use at least 8 characters"),
    (["create", "not-an-email"], "error: email: not a valid email address"),
]


def test_mistakes_are_one_line_and_exit_1(env: dict[str, str]) -> None:
    runner.invoke(users_app, ["create", "ada@example.com", "--password", "correct horse"], env=env)
    for args, message in MISTAKES:
        result = runner.invoke(users_app, args, env=env)
        assert result.exit_code == 1, args
        assert result.output.strip().startswith(message), result.output
        assert len(result.output.strip().splitlines()) == 1


def test_products_list_shows_prices_lookup_keys_and_overrides(env: dict[str, str]) -> None:
    result = runner.invoke(products_app, ["list"], env=env)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()]
    assert rows[0] == ["product", "billed", "grants", "price", "lookup", "key", "provider", "price"]
    assert [
        "premium_sub",
        "every",
        "1",
        "month",
        "premium",
        "$29.00",
        "billhook:premium_sub:usd:v1",
        "price_env_premium",
    ] in rows
    assert [
        "premium_sub",
        "every",
        "1",
        "month",
        "premium",
        "€27.00",
        "billhook:premium_sub:eur:v1",
        "not",
        "synced",
    ] in rows


def test_products_list_with_a_broken_catalog_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[[products]]\nid = "x"\n')
    result = runner.invoke(products_app, ["list"], env={**env, "BILLHOOK_CATALOG": str(broken)})
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {broken}: product 'x': name: Field required")
