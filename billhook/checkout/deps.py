"""Request dependencies shared by the checkout and subscription-management endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from billhook.accounts.deps import CacheDep
from billhook.checkout.service import CheckoutDeps
from billhook.errors import Unavailable
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.providers.actions import ProviderActions
from billhook.providers.base import PaymentProvider


def get_provider(runtime: RuntimeDep) -> PaymentProvider:
    if runtime.provider is None:
        raise Unavailable("no payment provider is configured")
    return runtime.provider


def get_actions(runtime: RuntimeDep) -> ProviderActions:
    """The provider's actions, built once by the composition root (``billhook/bootstrap.py``)."""
    if runtime.actions is None:
        raise Unavailable("no payment provider is configured")
    return runtime.actions


ProviderDep = Annotated[PaymentProvider, Depends(get_provider)]
ActionsDep = Annotated[ProviderActions, Depends(get_actions)]


def checkout_deps(
    session: SessionDep, runtime: RuntimeDep, actions: ActionsDep, provider: ProviderDep, cache: CacheDep
) -> CheckoutDeps:
    return CheckoutDeps(session, actions, provider, runtime.settings, runtime.clock, cache)


CheckoutDepsDep = Annotated[CheckoutDeps, Depends(checkout_deps)]
