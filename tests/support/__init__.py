"""Shared test helpers; test modules import from here, never from each other or a conftest.

Which to reach for:

* a handler or service against provider objects, no server: ``fake_provider.FakeProvider``;
* the whole product on loopback (sandbox, app, workers): ``stack.Stack`` (``running_stack``),
  shared per module by ``shared_stack``; customers acting on it: ``subscriptions``;
* the sandbox alone, through the SDK: ``sandbox.Harness`` and ``sandbox_factories``; the
  sandbox with Billhook's webhook receiver: ``inbox.SandboxWithReceiver`` (``inbox.Shop``);
* an app with a few routers in process: ``app_harness``, ``admin``, ``payments``;
* databases and settings: ``databases`` (``make_settings``, ``migrated_database``);
* other seams: ``mail`` (mailer, SMTP, Mailgun), ``outbox``, ``fulfilment``, ``cli``, ``forms``,
  ``stripe_shapes`` (Stripe's example key sets), ``server`` (a uvicorn thread);
* rows and contexts: the ``*_factories`` modules.
"""
