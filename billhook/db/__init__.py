"""Database engine, sessions, base model, column types and migrations."""

from billhook.db.engine import create_engine, create_session_factory

__all__ = ["create_engine", "create_session_factory"]
