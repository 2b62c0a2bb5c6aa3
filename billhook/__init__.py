"""Billhook: a self-hosted payments and subscriptions backend on Stripe."""

__version__ = "0.1.0"
