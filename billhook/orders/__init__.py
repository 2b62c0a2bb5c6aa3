"""Orders: what a customer paid for, recorded once per payment, and the jobs that fulfil it.

Public API (:mod:`billhook.orders.service`): ``record_paid_order``,
``record_order_payment_failed``, ``record_order_refunded``; inputs in
:mod:`billhook.orders.schemas`; the dispatch table in :mod:`billhook.orders.dispatch`.
"""
