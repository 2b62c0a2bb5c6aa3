"""The ``accounts.provision_customer`` job: a paid checkout by an email with no account.

The checkout webhook handler enqueues it (keyed by the provider customer) when the customer it
mirrored is linked to no user. The job finds or creates the user for that email, links the
customer, sends the welcome email with a single-use password-set link only when it created the
user, and asks for an entitlements sync. Duplicate deliveries share the job key; a replay finds
the customer linked and does nothing; two racing jobs meet the unique email index.
"""

from __future__ import annotations

from sqlalchemy import select

from billhook.accounts.passwords import Passwords
from billhook.accounts.policy import account_policy
from billhook.accounts.service import Accounts
from billhook.accounts.tokens import TokenSigner
from billhook.audit.service import Cause, record
from billhook.models import Customer
from billhook.notifications import queue_email
from billhook.outbox import JobContext, JobRegistry, PermanentJobError
from billhook.outbox.contracts import PROVISION_CUSTOMER, SYNC_ENTITLEMENTS, SyncEntitlements


async def provision_customer(ctx: JobContext) -> None:
    customer = await ctx.session.scalar(
        select(Customer).where(Customer.stripe_id == ctx.payload.get("customer_id"))
    )
    if customer is None:
        raise LookupError(f"customer {ctx.payload.get('customer_id')} is not mirrored yet")
    if customer.user_id is not None:
        return
    email = ctx.payload.get("email") or customer.email
    if not email:
        raise PermanentJobError(f"customer {customer.stripe_id} has no email to create an account for")
    settings = ctx.runtime.settings
    accounts = Accounts(
        ctx.session,
        TokenSigner(settings.secret_key),
        settings.secret_key,
        account_policy(settings),
        Passwords(),
    )
    user, created = await accounts.find_or_create_by_email(email, name=customer.name)
    customer.user_id = user.id
    await ctx.session.flush()
    cause = Cause(
        actor="system", event_id=ctx.payload.get("event_id"), event_type="checkout.session.completed"
    )
    changes = {"user_id": [None, user.id], "user_created": created}
    await record(
        ctx.session,
        cause,
        action="customer.linked",
        subject_type="customer",
        subject_id=customer.stripe_id,
        changes=changes,
        customer_id=customer.id,
        user_id=user.id,
    )
    if created:
        link = accounts.password_link(user, base_url=settings.billhook_base_url, now=ctx.runtime.clock.now())
        hours = int(account_policy(settings).reset_ttl.total_seconds() // 3600) or 1
        context = {"password_set_url": link.url, "link_valid_hours": hours, "name": user.name}
        await queue_email(ctx.session, template="welcome", to=user.email, context=context, key_object=user.id)
    await SYNC_ENTITLEMENTS.enqueue(
        ctx.session, SyncEntitlements(user_id=user.id), key=f"entitlements:linked:{user.id}"
    )


def register_jobs(registry: JobRegistry) -> None:
    registry.register(PROVISION_CUSTOMER, provision_customer)
