"""A PostgreSQL server of a test's own, to stop, freeze (SIGSTOP) and resume without touching the
shared one on port 5432.

``initdb`` + ``pg_ctl`` from the Debian packages (``/usr/lib/postgresql/*/bin``) in a fresh
directory, on a free loopback port; run as the ``postgres`` user when the tests run as root
(PostgreSQL refuses to run as root). Missing binaries skip the test (fail it in CI).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from billhook.db import create_engine, migrate
from tests.support.databases import unavailable
from tests.support.server import free_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class OwnPostgres:
    def __init__(self, bin_dir: Path, root: Path, port: int, user: str | None) -> None:
        self.bin_dir, self.root, self.port, self.user = bin_dir, root, port, user
        self.data = root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run(
            [*prefix, str(self.bin_dir / command[0]), *command[1:]],
            check=True,
            timeout=timeout,
            capture_output=True,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self.resume()  # a frozen server cannot stop
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, WAL writer...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pgrep = ["pgrep", "-P", str(postmaster)]
        children = subprocess.run(pgrep, check=False, capture_output=True, text=True).stdout
        return [postmaster, *(int(pid) for pid in children.split())]

    def _signal_all(self, signum: signal.Signals) -> None:
        for pid in self._pids():
            # A backend whose client just left may exit between the listing and the signal.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def freeze(self) -> None:
        """SIGSTOP the whole server: connections stay open and nothing answers."""
        self._signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_all(signal.SIGCONT)


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    bin_dir = _binaries()
    if bin_dir is None:
        unavailable("PostgreSQL binaries (initdb, pg_ctl)", FileNotFoundError("pg_ctl"))
    assert bin_dir is not None
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="billhook-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = OwnPostgres(bin_dir, root, free_port(), user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            if (server.data / "postmaster.pid").exists():
                server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def migrated_own_postgres() -> AsyncIterator[OwnPostgres]:
    """A server of the test's own with Billhook's schema in it."""
    with own_postgres() as pg:
        engine = create_engine(pg.url)
        await migrate.upgrade(engine)
        await engine.dispose()
        yield pg
