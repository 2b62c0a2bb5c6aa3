"""The README's quick start, run as a new user would: the real `billhook` executable in a fresh,
empty directory, from `init` to a paid checkout and a moved sandbox clock, with no dead end.

Each step is a separate process, as typed at a shell; the service runs in the background on a
free port. The README's "Quick start" shows exactly these commands.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

BILLHOOK = Path(sys.executable).with_name("billhook")
PASSWORD = "correct horse battery"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
BUDGET = 60.0  # seconds for the whole journey


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRIPE_", "DATABASE_", "BILLHOOK_", "SMTP_", "MAILGUN_", "REDIS_"))
        and name not in {"LOG_LEVEL", "LOG_FORMAT"}
    }
    return {**env, "HOME": str(home), **extra}


def billhook(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BILLHOOK), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=45, check=False
    )


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    directory = tmp_path / "shop"
    directory.mkdir()
    return directory


@pytest.fixture
def base_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def served(shop: Path, base_url: str) -> Iterator[subprocess.Popen[str]]:
    """`billhook init` then `billhook serve &` (stopped at the end)."""
    env = _clean_env(shop.parent)
    init = billhook("init", "--base-url", base_url, cwd=shop, env=env)
    assert init.returncode == 0, init.stderr
    process = subprocess.Popen(
        [str(BILLHOOK), "serve"],
        cwd=shop,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_until_ready(base_url: str, process: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else "serve exited"
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("/readyz did not turn 200")


def buy(base_url: str, product_id: str) -> httpx.Response:
    """Register, start a checkout and pay on the sandbox's hosted page, as a browser would."""
    with httpx.Client(base_url=base_url, timeout=20) as http:
        email = f"first-{product_id}@example.com"
        registered = http.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        token = http.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        checkout = http.post(
            "/api/payments/checkout",
            json={"product_id": product_id},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert checkout.status_code == 201, checkout.text
        page = http.get(checkout.json()["url"])
        assert page.status_code == 200, page.text
        match = FORM_TOKEN.search(page.text)
        assert match is not None, "the hosted checkout page has no form"
        form = {
            "form_token": match.group(1),
            "card_number": "4242 4242 4242 4242",
            "exp": "12/34",
            "cvc": "123",
        }
        return http.post(f"{checkout.json()['url']}/pay", data=form)


def test_the_quick_start_runs_from_an_empty_directory(
    shop: Path, base_url: str, served: subprocess.Popen[str], tmp_path: Path
) -> None:
    started = time.monotonic()
    deadline = started + BUDGET
    env = _clean_env(tmp_path)

    wait_until_ready(base_url, served, deadline)
    paid = buy(base_url, "pro_monthly")  # the first checkout right after /readyz turned 200
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"].startswith(base_url)

    setup = billhook("setup", "--no-interactive", cwd=shop, env=env)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert all(line.startswith(("✓", "done")) for line in setup.stdout.splitlines()), setup.stdout

    check = billhook("check", cwd=shop, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = check.stdout.strip().splitlines()
    assert lines[-1].endswith(" passed, 0 failed")
    assert lines[:-1] and all(line.startswith("✓ ") for line in lines[:-1]), check.stdout

    webhooks = billhook("webhooks", "test", cwd=shop, env=env)
    assert webhooks.returncode == 0, webhooks.stderr
    assert "the inbox processed it: round trip" in webhooks.stdout

    # From anywhere, with only BILLHOOK_BASE_URL set (no .env where these run).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    only_base = _clean_env(tmp_path, BILLHOOK_BASE_URL=base_url)
    clock = billhook("sandbox", "clock", cwd=elsewhere, env=only_base)
    assert clock.returncode == 0, clock.stderr
    assert re.fullmatch(r"Sandbox time is \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 \(.+\)\.\n", clock.stdout)
    advanced = billhook("sandbox", "advance", "--days", "1", cwd=elsewhere, env=only_base)
    assert advanced.returncode == 0, advanced.stderr
    assert "(1 day ahead of real time)" in advanced.stdout

    assert time.monotonic() - started < BUDGET

    served.terminate()
    printed = served.communicate(timeout=20)[0]
    assert f"Billhook listening on {base_url}" in printed
    ready = printed[printed.index("Ready. Open:") :].splitlines()
    assert [line.split()[0] for line in ready[1:6]] == ["pricing", "account", "mailbox", "API", "sandbox"]
    assert f"{base_url}/pricing" in ready[1] and f"{base_url}/docs" in ready[4]


def test_setup_before_serve_needs_no_dashboard_and_check_passes_once_serve_runs(
    shop: Path, base_url: str, tmp_path: Path
) -> None:
    env = _clean_env(tmp_path)
    assert billhook("init", "--base-url", base_url, cwd=shop, env=env).returncode == 0
    before = billhook("setup", "--no-interactive", cwd=shop, env=env)
    assert before.returncode == 0, before.stdout + before.stderr
    assert "'billhook serve' registers it with its sandbox when it starts" in before.stdout
    env_lines = (shop / ".env").read_text().splitlines()
    assert not [line for line in env_lines if line.startswith("STRIPE_WEBHOOK_SECRET=")]  # nothing to copy
    process = subprocess.Popen(
        [str(BILLHOOK), "serve"], cwd=shop, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_ready(base_url, process, time.monotonic() + BUDGET)
        check = billhook("check", cwd=shop, env=env)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "0 failed" in check.stdout
        webhooks = billhook("webhooks", "test", cwd=shop, env=env)
        assert webhooks.returncode == 0, webhooks.stderr
    finally:
        process.terminate()
        process.wait(timeout=20)
