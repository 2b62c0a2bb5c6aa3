"""``register_jobs``: every job type fulfilment handles, registered once at start-up."""

from __future__ import annotations

import httpx

from billhook.fulfilment.bookings import confirm_booking
from billhook.fulfilment.domains import register_domain, renew_domain
from billhook.fulfilment.hooks import FulfillerLoader, load_entry_point, run_host_fulfilment
from billhook.fulfilment.plans import activate_plan, renew_plan
from billhook.fulfilment.records import once_per_item
from billhook.fulfilment.registrars import DomainRegistrar, SandboxRegistrar
from billhook.fulfilment.requests import FulfilmentJob
from billhook.fulfilment.webhooks import WEBHOOK_POLICY, WebhookDeliverer, fan_out
from billhook.outbox import FULFILMENT_POLICY, JobRegistry, RetryPolicy


def register_jobs(
    registry: JobRegistry,
    *,
    registrar: DomainRegistrar | None = None,
    host_fulfillers: FulfillerLoader = load_entry_point,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    fulfilment_policy: RetryPolicy = FULFILMENT_POLICY,
    webhook_policy: RetryPolicy = WEBHOOK_POLICY,
) -> None:
    """Register the fulfilment and outgoing-webhook job types.

    ``registrar`` defaults to the sandbox registrar; pass a real one in production (see
    :mod:`billhook.fulfilment.registrars`). ``email.send`` and ``email.dead_letter_alert`` are
    registered by :mod:`billhook.notifications`.
    """
    registrar = registrar or SandboxRegistrar()
    item_jobs = {
        FulfilmentJob.DOMAIN_REGISTER: register_domain(registrar),
        FulfilmentJob.DOMAIN_RENEW: renew_domain(registrar),
        FulfilmentJob.SUBSCRIPTION_ACTIVATE: activate_plan,
        FulfilmentJob.SUBSCRIPTION_RENEW: renew_plan,
        FulfilmentJob.BOOKING_CONFIRM: confirm_booking,
        FulfilmentJob.CUSTOM: run_host_fulfilment(host_fulfillers),
    }
    for job_type, work in item_jobs.items():
        registry.register(job_type, once_per_item(job_type, work), fulfilment_policy)
    registry.register(FulfilmentJob.WEBHOOK_PUBLISH, fan_out, fulfilment_policy)
    registry.register(FulfilmentJob.WEBHOOK_DELIVER, WebhookDeliverer(webhook_transport), webhook_policy)
