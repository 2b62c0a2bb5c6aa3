"""The routing table: provider event type → handler. Types not listed are stored, not applied."""

from __future__ import annotations

from billhook.inbox.handlers.base import Handler, HandlerContext
from billhook.inbox.handlers.checkout import checkout_session_changed
from billhook.inbox.handlers.customers import (
    customer_changed,
    payment_method_changed,
    setup_intent_changed,
    source_changed,
)
from billhook.inbox.handlers.invoices import invoice_changed
from billhook.inbox.handlers.payments import (
    charge_changed,
    dispute_created,
    payment_intent_changed,
    refund_changed,
)
from billhook.inbox.handlers.subscriptions import subscription_changed

ROUTES: dict[str, Handler] = {
    "checkout.session.completed": checkout_session_changed,
    "checkout.session.async_payment_succeeded": checkout_session_changed,
    "checkout.session.async_payment_failed": checkout_session_changed,
    "checkout.session.expired": checkout_session_changed,
    "customer.created": customer_changed,
    "customer.updated": customer_changed,
    "customer.deleted": customer_changed,
    "customer.source.expiring": source_changed,
    "customer.source.updated": source_changed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "customer.subscription.trial_will_end": subscription_changed,
    "invoice.created": invoice_changed,
    "invoice.updated": invoice_changed,
    "invoice.finalized": invoice_changed,
    "invoice.paid": invoice_changed,
    "invoice.payment_succeeded": invoice_changed,
    "invoice.payment_failed": invoice_changed,
    "payment_intent.created": payment_intent_changed,
    "payment_intent.succeeded": payment_intent_changed,
    "payment_intent.payment_failed": payment_intent_changed,
    "charge.succeeded": charge_changed,
    "charge.failed": charge_changed,
    "charge.refunded": charge_changed,
    "charge.dispute.created": dispute_created,
    "setup_intent.created": setup_intent_changed,
    "setup_intent.succeeded": setup_intent_changed,
    "setup_intent.setup_failed": setup_intent_changed,
    "payment_method.attached": payment_method_changed,
    "payment_method.detached": payment_method_changed,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
}

__all__ = ["ROUTES", "Handler", "HandlerContext"]
