"""Checkout: opening hosted Checkout Sessions and completing them from the success redirect.

Public API: :func:`billhook.checkout.service.start_checkout`, :mod:`billhook.checkout.completion`
(``verify_success``, ``checkout_status``; applying a session is
:mod:`billhook.payments.checkout_sync`), the router in
:mod:`billhook.checkout.endpoints`.
Pushing the catalog to the provider is :func:`billhook.catalog.push.sync_products`.
"""
