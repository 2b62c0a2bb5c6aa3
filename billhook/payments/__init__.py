"""Payments, refunds and disputes, and the one payment state machine (``states``)."""
