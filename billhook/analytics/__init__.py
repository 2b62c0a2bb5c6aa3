"""Revenue analytics: read-only figures (MRR, movements, churn, conversion, recovery, operations).

Definitions live in ``docs/analytics.md`` and their arithmetic in :mod:`billhook.analytics.definitions`;
the SQL in :mod:`billhook.analytics.repository`; :mod:`billhook.analytics.service` composes them.
The ledger they read is written by :mod:`billhook.subscriptions.mrr` with the mirror change.
"""
