"""``billhook init``: a commented ``billhook.toml`` and ``.env`` in an empty directory.

Kept free of heavy imports (no app, no database): it only copies the packaged example catalog
and writes a dotenv file, so it answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

import billhook

# billhook.catalog.loader.EXAMPLE_CATALOG, found without importing the catalog package
EXAMPLE = Path(billhook.__file__).parent / "catalog" / "example.toml"
CATALOG_FILE = "billhook.toml"
ENV_FILE = ".env"

ENV_TEMPLATE = """\
# Billhook's settings for this directory: every `billhook` command run here reads this file
# (the environment wins over it). The full list is in Billhook's README, "Configuration".

# Where Billhook is reached: links, redirects and the sandbox's webhooks use it, and
# `billhook serve` listens on its port when started without --port.
BILLHOOK_BASE_URL={base_url}

# The product catalog (prices in minor units: usd = 4900 means $49.00).
BILLHOOK_CATALOG={catalog}

# The database; SQLite in this directory until you set a PostgreSQL URL.
# DATABASE_URL=postgresql://USER:PASSWORD@HOST/DB
DATABASE_URL=sqlite:///./billhook.db

# Without STRIPE_SECRET_KEY Billhook runs on its own offline Stripe sandbox (no account needed).
# With your test keys from https://dashboard.stripe.com/test/apikeys it runs on Stripe:
# STRIPE_SECRET_KEY=sk_test_...
# STRIPE_PUBLISHABLE_KEY=pk_test_...
# `billhook setup` registers the webhook endpoint and writes its STRIPE_WEBHOOK_SECRET here.

# development (the default), test or production
# BILLHOOK_ENV=development
# DEBUG shows tracebacks; INFO is the default.
# LOG_LEVEL=INFO
"""


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise typer.BadParameter(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:8000")
    return value.rstrip("/")


def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path(),
    base_url: Annotated[
        str,
        typer.Option(help="BILLHOOK_BASE_URL: where Billhook will be reached.", callback=_base_url),
    ] = "http://127.0.0.1:8000",
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Write a commented billhook.toml (a typical SaaS catalog) and a .env to start from."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        CATALOG_FILE: EXAMPLE.read_text(encoding="utf-8"),
        ENV_FILE: ENV_TEMPLATE.format(base_url=base_url, catalog=CATALOG_FILE),
    }
    for name, content in files.items():
        path = directory / name
        if path.exists() and not force:
            typer.echo(f"· kept {path} (it exists; --force replaces it)")
            continue
        path.write_text(content, encoding="utf-8")
        if name == ENV_FILE:
            path.chmod(0o600)  # it will hold API keys and the webhook secret
        typer.echo(f"✓ wrote {path}")
    where = "" if directory == Path() else f"cd {directory} && "
    typer.echo(f"next: {where}billhook serve   (then open {base_url}/pricing)")
