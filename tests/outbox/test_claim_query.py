"""The claim reads the pending partial index, even as a prepared statement's generic plan."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from billhook.db import create_engine
from billhook.outbox.repository import _CLAIM


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_the_claim_uses_the_pending_index_in_a_generic_plan(database_url: str) -> None:
    # asyncpg prepares every statement; after five runs PostgreSQL may switch to the generic
    # plan, where a bound ``status`` could not prove the partial index's ``status = 'pending'``.
    sql = _CLAIM.compile(dialect=postgresql.asyncpg.dialect()).string  # type: ignore[no-untyped-call]
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SET plan_cache_mode = force_generic_plan"))
            await connection.execute(text("SET enable_seqscan = off"))
            await connection.execute(text(f"PREPARE claim AS {sql}"))
            plan = await connection.scalars(
                text("EXPLAIN EXECUTE claim(1, now() + interval '5 minutes', 'w', now(), 8)")
            )
            shape = "\n".join(plan)
            await connection.rollback()
    finally:
        await engine.dispose()
    assert "ix_outbox_jobs_pending" in shape, shape
