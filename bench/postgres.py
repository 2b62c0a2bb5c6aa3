"""The PostgreSQL server the benchmarks make their scratch databases on (loopback by default)."""

from __future__ import annotations

import os

import asyncpg

ADMIN_URL = os.environ.get("BILLHOOK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def admin(sql: str, url: str = ADMIN_URL) -> None:
    """Run one statement (CREATE/DROP DATABASE …) on its own connection."""
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
