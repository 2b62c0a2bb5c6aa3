"""Buying a domain through the API and the sandbox: the name given at checkout is registered,
then renewed a year later, once each (issue #18, problem 1)."""

from __future__ import annotations

from sqlalchemy import select

from billhook.models import DomainRegistration, FulfilmentRecord, Order
from tests.support.stack import Stack


async def test_a_domain_bought_through_the_api_is_registered_then_renewed_once_each(
    stack: Stack,
) -> None:
    ada = await stack.register("ada@example.com")
    checkout = await stack.checkout(ada, product_id="domain_registration", domain="Ada-Lovelace.EXAMPLE")
    assert checkout.status_code == 201, checkout.text
    paid = await stack.pay(checkout.json()["url"])
    assert paid.status_code == 303

    async def registered() -> DomainRegistration | None:
        async with stack.db() as session:
            return await session.scalar(select(DomainRegistration))

    first = await stack.eventually(registered)
    assert (first.domain, first.user_id, first.renewals) == (
        "ada-lovelace.example",
        (await stack.me(ada))["id"],
        0,
    )

    again = await stack.checkout(ada, product_id="domain_registration", domain="ada-lovelace.example")
    assert again.status_code == 409, again.text  # one registration per domain
    plan = await stack.checkout(ada, product_id="premium_sub")
    assert plan.status_code == 201, plan.text  # a domain is not "a subscription" to change instead

    await stack.advance(days=366)
    await stack.settled(timeout=30)

    async with stack.db() as session:
        renewed = await session.scalar(select(DomainRegistration))
        orders = (await session.execute(select(Order.type).where(Order.status != "pending"))).scalars().all()
        jobs = (await session.execute(select(FulfilmentRecord.job_type))).scalars().all()
    assert renewed is not None and renewed.renewals == 1
    assert renewed.expires_at > first.expires_at
    assert sorted(orders) == ["new", "renewal"]
    assert sorted(jobs) == ["fulfilment.domain_register", "fulfilment.domain_renew"]


REFUSED = [
    ({"product_id": "domain_registration"}, "give its name"),
    ({"product_id": "domain_registration", "domain": "localhost"}, "top-level domain"),
    ({"product_id": "domain_registration", "domain": "-bad-.com"}, "hyphens"),
    ({"product_id": "domain_registration", "domain": "a..com"}, "not a valid domain name"),
    ({"product_id": "domain_registration", "domain": "example.123"}, "not a top-level domain"),
    ({"product_id": "starter", "domain": "example.com"}, "not a domain product"),
]


async def test_a_domain_checkout_without_a_registrable_name_is_refused(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    for body, message in REFUSED:
        refused = await stack.checkout(ada, **body)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "validation_error" and message in error["message"], (body, error)
