"""The embedded default needs no dashboard: its endpoint's secret is derived from the secret key,
`check` accepts it, and network failures say what to do in Billhook's words."""

from __future__ import annotations

from pathlib import Path

from billhook.errors import ProviderError
from billhook.ops.checks import check_webhook_secret
from billhook.ops.embedded import explain, signing_secrets
from billhook.providers.sandbox import Sandbox, SandboxConfig
from billhook.providers.sandbox.link import embedded_webhook_secret
from tests.support.databases import make_settings

STRIPE_NETWORK_ERROR = (
    "Unexpected error communicating with Stripe. If this problem persists, let us know at "
    "support@stripe.com. (Network error: A ConnectError was raised)"
)


def test_the_embedded_secret_is_derived_from_the_secret_key_alone() -> None:
    first = embedded_webhook_secret("k" * 40)
    assert first == embedded_webhook_secret("k" * 40)
    assert first != embedded_webhook_secret("j" * 40)
    assert first.startswith("whsec_")
    assert "k" * 8 not in first


def test_the_embedded_default_signs_with_the_derived_secret_unless_one_is_configured() -> None:
    settings = make_settings("sqlite:///unused.db", billhook_secret_key="s" * 40)
    assert signing_secrets(settings) == [embedded_webhook_secret("s" * 40)]
    configured = make_settings("sqlite:///unused.db", stripe_webhook_secret="whsec_mine")
    assert signing_secrets(configured) == ["whsec_mine"]
    served = make_settings("sqlite:///unused.db", stripe_api_base="http://127.0.0.1:9/sandbox")
    assert signing_secrets(served) == []


def test_check_accepts_the_embedded_secret_without_stripe_webhook_secret() -> None:
    line = check_webhook_secret(make_settings("sqlite:///unused.db")).line()
    assert line.startswith("✓ webhook secret: the embedded sandbox signs with a secret derived")


async def test_the_sandbox_endpoint_takes_the_given_secret_also_when_it_exists(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"))
    await sandbox.start()
    try:
        url = "http://127.0.0.1:8000/api/payments/webhook"
        old_id, old_secret = await sandbox.ensure_webhook_endpoint(url)  # an older start: random secret
        endpoint_id, secret = await sandbox.ensure_webhook_endpoint(url, "whsec_derived")
        assert (endpoint_id, secret) == (old_id, "whsec_derived")
        assert old_secret != "whsec_derived"
        assert await sandbox.ensure_webhook_endpoint(url) == (old_id, "whsec_derived")
        other_id, other = await sandbox.ensure_webhook_endpoint(f"{url}/2", "whsec_new")
        assert (other_id != old_id, other) == (True, "whsec_new")
    finally:
        await sandbox.aclose()


def test_a_network_failure_names_the_address_and_the_command_that_fixes_it() -> None:
    failure = ProviderError(STRIPE_NETWORK_ERROR)
    embedded = make_settings("sqlite:///unused.db", billhook_base_url="http://127.0.0.1:8123")
    assert explain(embedded, failure) == (
        "http://127.0.0.1:8123/sandbox did not answer: start Billhook with 'billhook serve' "
        "(it serves the sandbox), or set BILLHOOK_BASE_URL to where it runs"
    )
    stripe = make_settings("sqlite:///unused.db", stripe_secret_key="sk_test_x")
    message = explain(stripe, failure)
    assert message.startswith("https://api.stripe.com did not answer: check this machine's internet")
    assert "support@stripe.com" not in message


def test_other_provider_errors_keep_their_message() -> None:
    settings = make_settings("sqlite:///unused.db", stripe_secret_key="sk_test_x")
    assert explain(settings, ProviderError("Invalid API Key provided")) == "Invalid API Key provided"
