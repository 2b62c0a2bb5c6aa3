"""Which event snapshots the Stripe provider accepts as its own read: whole objects of Stripe's
shape at its API version, without an expansion the read asks for."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from billhook.providers.base import (
    ProviderCustomer,
    ProviderDispute,
    ProviderPaymentMethod,
    ProviderSetupIntent,
    ProviderSubscription,
    SnapshotReader,
)
from billhook.providers.stripe import API_VERSION, StripeProvider
from tests.support.inbox import event_payload
from tests.support.stripe_shapes import FIXTURES

KINDS = {
    "customer": ProviderCustomer,
    "payment_method": ProviderPaymentMethod,
    "subscription": ProviderSubscription,
    "setup_intent": ProviderSetupIntent,
    "dispute": ProviderDispute,
}


def stripe_example(resource: str) -> dict[str, Any]:
    """Stripe's own example object (openapi fixtures), as an event would carry it."""
    example: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"][resource]
    return example


@pytest.fixture
async def provider() -> AsyncIterator[StripeProvider]:
    provider = StripeProvider("sk_test_shapes", "http://127.0.0.1:9/unused", max_network_retries=0)
    yield provider
    await provider.aclose()


@pytest.mark.parametrize("resource", sorted(KINDS))
def test_stripes_own_example_objects_stand_in_for_their_read(provider: StripeProvider, resource: str) -> None:
    obj = stripe_example(resource)
    if resource == "subscription":
        obj["discounts"] = []
    mapped = provider.object_from_snapshot(provider.parse_event(event_payload(obj=obj)))

    assert isinstance(mapped, KINDS[resource])
    assert mapped.id == obj["id"]


@pytest.mark.parametrize("resource", sorted(KINDS))
def test_a_partial_object_stands_in_for_nothing(provider: StripeProvider, resource: str) -> None:
    obj = {"id": stripe_example(resource)["id"], "object": resource}

    assert provider.object_from_snapshot(provider.parse_event(event_payload(obj=obj))) is None


def test_a_subscription_with_discounts_is_read_for_its_coupons(provider: StripeProvider) -> None:
    obj = {**stripe_example("subscription"), "discounts": ["di_1"]}

    assert provider.object_from_snapshot(provider.parse_event(event_payload(obj=obj))) is None


def test_another_api_version_stands_in_for_nothing(provider: StripeProvider) -> None:
    event = event_payload(obj=stripe_example("customer"), api_version="2020-08-27")
    assert API_VERSION != "2020-08-27"

    assert provider.object_from_snapshot(provider.parse_event(event)) is None


@pytest.mark.parametrize("resource", ["invoice", "charge", "checkout.session", "payment_intent", "refund"])
def test_kinds_whose_read_differs_or_that_other_paths_write_are_not_mapped(
    provider: StripeProvider, resource: str
) -> None:
    obj = stripe_example(resource)

    assert provider.object_from_snapshot(provider.parse_event(event_payload(obj=obj))) is None


def test_a_deleted_customer_stands_in_for_nothing(provider: StripeProvider) -> None:
    obj = {**stripe_example("customer"), "deleted": True}

    assert provider.object_from_snapshot(provider.parse_event(event_payload(obj=obj))) is None


def test_the_stripe_provider_is_a_snapshot_reader(provider: StripeProvider) -> None:
    assert isinstance(provider, SnapshotReader)
