"""Fulfilment: the jobs that deliver what an order paid for, host hooks and outgoing webhooks.

* :mod:`billhook.fulfilment.requests`: job types, ``request_email`` and ``publish_event``;
  anyone may call these inside their transaction.
* :mod:`billhook.fulfilment.jobs`: ``register_jobs(registry)``, called once at start-up.
* :mod:`billhook.fulfilment.registrars`: the ``DomainRegistrar`` seam and its sandbox.
* :mod:`billhook.fulfilment.webhooks`: endpoints, Standard Webhooks signing and delivery.

See ``docs/fulfilment.md``.
"""
