"""Operations behind the CLI: ``billhook check``, ``setup``, ``webhooks test`` and ``logs``."""
