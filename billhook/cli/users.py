"""``billhook users``: create users and admins, change roles, list users."""

from __future__ import annotations

from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.accounts import repository
from billhook.accounts.passwords import Passwords
from billhook.accounts.policy import account_policy
from billhook.accounts.service import Accounts, generate_password
from billhook.accounts.tokens import TokenSigner
from billhook.catalog.loader import catalog_path, load_catalog
from billhook.catalog.schemas import BUILT_IN_ROLES
from billhook.cli.db_session import run_in_session
from billhook.cli.tables import print_table
from billhook.config import Settings
from billhook.errors import InvalidInput
from billhook.kit.formatting import format_date

app = typer.Typer(help="Create users and admins, change roles, list users.", no_args_is_help=True)
T = TypeVar("T")


def _accounts(session: AsyncSession, settings: Settings) -> Accounts:
    # Creating users signs nothing: a placeholder key is enough when none is configured.
    secret = settings.billhook_secret_key or "cli-unused"
    return Accounts(session, TokenSigner(secret), secret, account_policy(settings), Passwords())


def known_roles(settings: Settings) -> list[str]:
    """The built-in roles plus every role the catalog grants (when the catalog file exists)."""
    path = catalog_path(settings)
    if path is None:
        return list(BUILT_IN_ROLES)
    return load_catalog(path).roles


def _check_known(role: str, settings: Settings) -> None:
    roles = known_roles(settings)
    if role not in roles:
        raise InvalidInput(f"unknown role {role!r}; use one of: {', '.join(roles)}")


def _create(email: str, password: str | None, role: str) -> None:
    chosen = password or generate_password()

    async def action(session: AsyncSession, settings: Settings) -> str:
        _check_known(role, settings)
        user = await _accounts(session, settings).create_user(email, chosen, role=role)
        return user.email

    created = run_in_session(action)
    typer.echo(f"created {role} {created}")
    if password is None:
        typer.echo(f"password: {chosen}")


@app.command("create-admin")
def create_admin(
    email: str = typer.Argument(..., help="The admin's email address."),
    password: str | None = typer.Option(None, help="Password (one is generated and printed when absent)."),
) -> None:
    """Create an admin user."""
    _create(email, password, "admin")


@app.command("create")
def create(
    email: str = typer.Argument(..., help="The user's email address."),
    role: str = typer.Option("free", help="Role: free, coach, admin or a role the catalog grants."),
    password: str | None = typer.Option(None, help="Password (one is generated and printed when absent)."),
) -> None:
    """Create a user."""
    _create(email, password, role)


@app.command("set-role")
def set_role(
    email: str = typer.Argument(..., help="The user's email address."),
    role: str = typer.Argument(..., help="Role: free, coach, admin or a role the catalog grants."),
) -> None:
    """Change a user's role."""

    async def action(session: AsyncSession, settings: Settings) -> str:
        _check_known(role, settings)
        user = await _accounts(session, settings).set_role(email, role)
        return user.email

    typer.echo(f"{run_in_session(action)} is now {role}")


@app.command("list")
def list_users() -> None:
    """List users: email, role, created, id."""

    async def action(session: AsyncSession, _settings: Settings) -> list[tuple[str, ...]]:
        users = await repository.all_users(session)
        return [(u.email, u.role, format_date(u.created_at), u.id) for u in users]

    print_table(("email", "role", "created", "id"), run_in_session(action), empty="no users")
