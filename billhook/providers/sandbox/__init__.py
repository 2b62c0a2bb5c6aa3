"""The offline Stripe-compatible sandbox: a stateful API under ``/v1``, hosted checkout and portal
pages, signed webhooks with chaos switches, and a test clock. See ``docs/sandbox.md``."""

from .config import ChaosSettings, SandboxConfig
from .sandbox import Sandbox, standalone_app

__all__ = ["ChaosSettings", "Sandbox", "SandboxConfig", "standalone_app"]
