"""Checkout: opening hosted Checkout Sessions and completing them from the success redirect.

Public API: :func:`billhook.checkout.service.start_checkout`, :mod:`billhook.checkout.completion`
(``verify_success``, ``checkout_status``; applying a session is
:mod:`billhook.payments.checkout_sync`), the router in
:mod:`billhook.checkout.endpoints`, and :func:`billhook.checkout.catalog_sync.sync_products`.
"""
