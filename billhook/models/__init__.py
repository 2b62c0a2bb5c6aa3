"""ORM tables, one file each. Importing this package registers every table on ``Base.metadata``."""

from billhook.models.audit_entries import AuditEntry
from billhook.models.bookings import Booking, BookingStatus
from billhook.models.cancellations import CancellationRecord
from billhook.models.catalog import Price, Product
from billhook.models.checkout_sessions import CheckoutSession
from billhook.models.customers import Customer, PaymentMethod
from billhook.models.email_messages import EmailMessage
from billhook.models.fulfilment import DomainRegistration, FulfilmentRecord, PlanTerm
from billhook.models.inbox_events import InboxEvent, InboxStatus
from billhook.models.invoices import Invoice
from billhook.models.mrr_ledger import MrrMovement
from billhook.models.object_versions import ObjectVersion
from billhook.models.orders import Order, OrderItem, OrderType
from billhook.models.outbox_jobs import JobStatus, OutboxJob
from billhook.models.outgoing_webhooks import WebhookDelivery, WebhookEndpoint
from billhook.models.payments import Dispute, Payment, PaymentStatus, Refund
from billhook.models.subscriptions import Subscription
from billhook.models.users import User

__all__ = [
    "AuditEntry",
    "Booking",
    "BookingStatus",
    "CancellationRecord",
    "CheckoutSession",
    "Customer",
    "Dispute",
    "DomainRegistration",
    "EmailMessage",
    "FulfilmentRecord",
    "InboxEvent",
    "InboxStatus",
    "Invoice",
    "JobStatus",
    "MrrMovement",
    "ObjectVersion",
    "Order",
    "OrderItem",
    "OrderType",
    "OutboxJob",
    "Payment",
    "PaymentMethod",
    "PaymentStatus",
    "PlanTerm",
    "Price",
    "Product",
    "Refund",
    "Subscription",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
