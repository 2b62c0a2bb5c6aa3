"""The in-process fake keeps to the PaymentProvider interface and behaves like the real one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billhook.errors import NotFound
from billhook.providers.base import PaymentProvider, ProviderCustomer
from tests.support.fake_provider import Call, FakeProvider
from tests.support.inbox import event_payload


def test_the_fake_implements_every_method_of_the_interface() -> None:
    fake = FakeProvider()
    assert isinstance(fake, PaymentProvider)
    members = {name for name in dir(PaymentProvider) if not name.startswith("_")}
    assert members <= set(dir(fake))


async def test_an_object_never_put_in_is_not_found_and_the_call_is_recorded() -> None:
    fake = FakeProvider(ProviderCustomer(id="cus_1", email="a@example.com"))
    assert (await fake.get_customer("cus_1")).email == "a@example.com"
    with pytest.raises(NotFound):
        await fake.get_customer("cus_2")
    assert fake.calls == [Call("get_customer", "cus_1"), Call("get_customer", "cus_2")]


async def test_events_are_listed_newest_first_and_paged_like_stripes() -> None:
    fake = FakeProvider()
    for n, second in enumerate((10, 20, 30)):
        fake.put_event(event_payload(event_id=f"evt_{n}", created=1_800_000_000 + second))
    first = await fake.list_events(limit=2)
    assert [e.id for e in first.events] == ["evt_2", "evt_1"] and first.has_more
    rest = await fake.list_events(starting_after="evt_1", limit=2)
    assert [e.id for e in rest.events] == ["evt_0"] and not rest.has_more
    since = await fake.list_events(created_gte=datetime.fromtimestamp(1_800_000_020, UTC))
    assert [e.id for e in since.events] == ["evt_2", "evt_1"]
    assert (await fake.retrieve_event("evt_0")).created == datetime.fromtimestamp(1_800_000_010, UTC)
