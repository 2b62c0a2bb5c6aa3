"""Accounts: users, passwords, sessions, password resets and the ``current_user`` dependency."""
