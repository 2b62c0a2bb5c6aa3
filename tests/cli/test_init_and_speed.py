"""`billhook init` starts anywhere; `--help` and `version` answer without loading the application."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from billhook.catalog import EXAMPLE_CATALOG, load_catalog
from billhook.config import load_settings

BILLHOOK = Path(sys.executable).with_name("billhook")
HEAVY = ("sqlalchemy", "fastapi", "stripe", "billhook.app", "billhook.config", "uvicorn", "httpx")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_", "BILLHOOK_"))}
    return subprocess.run(
        [str(BILLHOOK), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_init_writes_a_catalog_and_an_env_that_billhook_reads(tmp_path: Path) -> None:
    result = _run("init", "--base-url", "http://127.0.0.1:8123", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "billhook.toml").read_text() == EXAMPLE_CATALOG.read_text()
    assert load_catalog(tmp_path / "billhook.toml").get("pro_yearly") is not None
    settings = load_settings(env_file=tmp_path / ".env")
    assert settings.billhook_base_url == "http://127.0.0.1:8123"
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0
    assert "billhook serve" in result.stdout


def test_init_keeps_files_that_exist_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "billhook.toml").write_text("# mine\n")
    kept = _run("init", cwd=tmp_path)
    assert kept.returncode == 0
    assert (tmp_path / "billhook.toml").read_text() == "# mine\n"
    assert "kept" in kept.stdout
    forced = _run("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0
    assert (tmp_path / "billhook.toml").read_text() == EXAMPLE_CATALOG.read_text()


def test_init_refuses_a_base_url_that_is_not_http(tmp_path: Path) -> None:
    result = _run("init", "--base-url", "localhost:8000", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not an http(s) URL" in result.stderr
    assert not (tmp_path / ".env").exists()


def test_help_and_version_import_none_of_the_application(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from billhook.cli import main\n"
        "for args in (['--help'], ['version']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_help_and_version_answer_within_300_ms(tmp_path: Path) -> None:
    """Measured as the child's CPU time: wall time on a shared two-core machine measures the neighbours."""
    for args in (["--help"], ["version"]):
        best = min(_cpu_seconds(args, tmp_path) for _ in range(3))
        assert best < 0.3, f"billhook {' '.join(args)} took {best:.3f}s of CPU"


def _cpu_seconds(args: list[str], cwd: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert _run(*args, cwd=cwd).returncode == 0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
