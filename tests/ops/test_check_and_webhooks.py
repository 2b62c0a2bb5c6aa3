"""``billhook check`` and ``billhook webhooks test`` against the running sandbox stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from billhook.ops.checks import check_keys, check_webhook_secret
from tests.support.cli import invoke, output_lines, point_at
from tests.support.databases import make_settings
from tests.support.stack import CATALOG, Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_check_passes_on_a_synced_sandbox(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await point_at(shared_stack, monkeypatch, tmp_path)
    result = await invoke("check")
    assert result.exit_code == 0, result.output
    lines = output_lines(result)
    assert all(line.startswith("✓") for line in lines[:-1]), result.output
    assert any(line.startswith("✓ price coaching_session eur") for line in lines)
    assert any(line.startswith("✓ webhook reachable") for line in lines)


async def test_check_names_a_price_missing_at_the_provider_until_products_sync(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    catalog = tmp_path / "billhook.toml"
    text = CATALOG.read_text().replace(
        'prices = { usd = 9900, eur = 8900 }\ngrants = { role = "pro"',
        'prices = { usd = 9900, eur = 8900, gbp = 7900 }\ngrants = { role = "pro"',
    )
    assert "gbp = 7900" in text
    catalog.write_text(text)
    await point_at(shared_stack, monkeypatch, tmp_path, catalog=catalog)
    failing = await invoke("check")
    assert failing.exit_code == 1, failing.output
    assert (
        "✗ price pro gbp: lookup key billhook:pro:gbp:v1: missing — fix: run 'billhook products sync'"
        in failing.output
    )
    assert sum(line.startswith("✗") for line in output_lines(failing)) == 1, failing.output
    synced = await invoke("products", "sync")
    assert synced.exit_code == 0, synced.output
    passing = await invoke("check", "--json")
    assert passing.exit_code == 0, passing.output
    assert '"name": "price pro gbp", "ok": true' in passing.output


async def test_check_without_a_webhook_secret_fails_with_the_fix(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await point_at(shared_stack, monkeypatch, tmp_path, secret=False)
    result = await invoke("check")
    assert result.exit_code == 1
    assert "✗ webhook secret: STRIPE_WEBHOOK_SECRET is not set — fix: run 'billhook setup'" in result.output


async def test_keys_must_match_the_environment_mode(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert check_keys(make_settings(url)).ok  # the sandbox: no key needed
    live_in_test = check_keys(
        make_settings(url, stripe_secret_key="sk_live_abc", stripe_webhook_secret="whsec_1")
    )
    assert not live_in_test.ok and "live key in a test environment" in live_in_test.detail
    mixed = check_keys(
        make_settings(url, stripe_secret_key="sk_test_abc", stripe_publishable_key="pk_live_x")
    )
    assert not mixed.ok and "pk_test_" in mixed.detail
    assert check_keys(
        make_settings(url, stripe_secret_key="sk_test_abc", stripe_publishable_key="pk_test_x")
    ).ok
    assert not check_keys(make_settings(url, stripe_secret_key="whatever")).ok
    assert not check_webhook_secret(make_settings(url, stripe_webhook_secret="nope")).ok


async def test_webhooks_test_round_trips_through_the_inbox(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await point_at(shared_stack, monkeypatch, tmp_path)
    result = await invoke("webhooks", "test", "--wait", "20")
    assert result.exit_code == 0, result.output
    assert "the inbox processed it: round trip" in result.output


async def test_webhooks_test_with_a_wrong_or_missing_secret_exits_1(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await point_at(shared_stack, monkeypatch, tmp_path)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_not_the_one")
    wrong = await invoke("webhooks", "test", "--wait", "5")
    assert wrong.exit_code == 1 and "refused the signed test event: 400" in wrong.output, wrong.output
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    missing = await invoke("webhooks", "test")
    assert missing.exit_code == 1 and "run 'billhook setup' first" in missing.output


@pytest.mark.parametrize(
    "args",
    [("setup",), ("check",), ("logs",), ("webhooks", "test"), ("payments", "list"), ("payments", "retry"),
     ("payments", "refund")],
)  # fmt: skip
async def test_every_command_explains_itself(args: tuple[str, ...]) -> None:
    result = await invoke(*args, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "--help" in result.output
