"""``billhook subscriptions``: cancel or change a customer's plan from the command line.

The provider is the configured one (Stripe, or the sandbox of a running ``billhook serve``);
each command runs in one transaction, prints one line per fact (or ``--json``) and exits 1 with
a one-line message on bad input (unknown email, no subscription, unknown plan).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from billhook.accounts import repository as accounts
from billhook.cli.provider_session import ProviderSession, run_in_transaction
from billhook.errors import NotFound
from billhook.kit.clock import SystemClock
from billhook.models import User
from billhook.subscriptions.management import (
    ManagementDeps,
    cancel_at_period_end,
    cancel_now,
    change_plan,
    plan_change_body,
)

T = TypeVar("T")
app = typer.Typer(help="Manage customers' subscriptions.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def run_with_provider(action: Callable[[ManagementDeps], Awaitable[T]]) -> T:
    """Run ``action`` with the provider in one committed transaction; errors exit 1 with one line."""

    def with_deps(ctx: ProviderSession) -> Awaitable[T]:
        deps = ManagementDeps(ctx.session, ctx.actions, ctx.provider, ctx.settings, SystemClock(), ctx.cache)
        return action(deps)

    return run_in_transaction(with_deps)


async def _user(deps: ManagementDeps, email: str) -> User:
    user = await accounts.by_email(deps.session, email.strip().lower())
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()}")
    return user


def _emit(as_json: bool, body: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(body, default=str) if as_json else text)


@app.command()
def cancel(
    email: str,
    now: Annotated[bool, typer.Option("--now", help="End it immediately instead of at period end.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why, for the cancellation record.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel EMAIL's subscription at the end of the period (or --now)."""

    async def action(deps: ManagementDeps) -> dict[str, Any]:
        user = await _user(deps, email)
        if now:
            row = await cancel_now(deps, user, reason=reason, requested_by="cli")
        else:
            row = await cancel_at_period_end(deps, user, reason=reason, requested_by="cli")
        return {
            "subscription_id": row.stripe_id,
            "status": row.status,
            "cancel_at_period_end": row.cancel_at_period_end,
            "current_period_end": row.current_period_end.isoformat() if row.current_period_end else None,
        }

    body = run_with_provider(action)
    when = "now" if now else f"at period end ({body['current_period_end'] or 'unknown'})"
    _emit(as_json, body, f"{body['subscription_id']} of {email}: canceled {when}; status {body['status']}")


@app.command("change-plan")
def change_plan_command(
    email: str,
    plan: Annotated[str, typer.Option("--plan", help="The catalog product id of the new plan.")],
    preview: Annotated[bool, typer.Option("--preview", help="Show the proration; change nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Move EMAIL's subscription to PLAN, charging the prorated difference now (or --preview it)."""

    async def action(deps: ManagementDeps) -> dict[str, Any]:
        user = await _user(deps, email)
        result = await change_plan(deps, user, product_id=plan, preview=preview, requested_by="cli")
        return plan_change_body(result)

    body = run_with_provider(action)
    if body["applied"]:
        _emit(as_json, body, f"{email} is now on {plan} (status {body['status']})")
        return
    lines = [
        f"  {line['amount']:>10} {body['currency']}  {line['description'] or ''}" for line in body["lines"]
    ]
    _emit(as_json, body, "\n".join([f"due now for {plan}: {body['amount_due']} {body['currency']}", *lines]))
