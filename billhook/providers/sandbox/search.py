"""A small subset of Stripe's Search Query Language (https://docs.stripe.com/search#search-query-language):
``field:'value'`` clauses joined by ``AND``, on the fields Billhook looks things up by."""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid
from .params import Params
from .render import view
from .store import Doc, Tx

_CLAUSE = re.compile(
    r"""^\s*(metadata\[['"](?P<meta>[^'"]+)['"]\]|(?P<field>[a-z_]+))\s*:\s*['"]?(?P<value>[^'"]*)['"]?\s*$"""
)
FIELDS = {
    "customer": ("email", "name", "phone"),
    "price": ("lookup_key", "active", "product", "currency", "type"),
    "product": ("name", "active", "description"),
}


def _matches(doc: Doc, field: str | None, meta: str | None, value: str) -> bool:
    if meta is not None:
        return bool(doc.get("metadata", {}).get(meta) == value)
    actual: Any = doc.get(field or "")
    if isinstance(actual, bool):
        return str(actual).lower() == value.lower()
    return actual is not None and str(actual) == value


async def search(tx: Tx, kind: str, p: Params, url: str) -> Doc:
    query = p.require_text("query")
    clauses = []
    for part in re.split(r"\s+AND\s+", query.strip()):
        match = _CLAUSE.match(part)
        if match is None or (match["field"] and match["field"] not in FIELDS[kind]):
            raise invalid(
                "query",
                f"Unsupported search query clause: {part!r}. The sandbox supports "
                f"field:'value' clauses joined by AND on {', '.join(FIELDS[kind])} and metadata['key'].",
            )
        clauses.append((match["field"], match["meta"], match["value"]))
    found = [
        doc
        for doc in await tx.find(kind)
        if not doc.get("deleted") and all(_matches(doc, f, m, v) for f, m, v in clauses)
    ]
    limit = p.integer("limit", minimum=1) or 10
    page = p.text("page")
    start = int(page) if page and page.isdigit() else 0
    window = found[start : start + limit]
    more = len(found) > start + limit
    return {
        "object": "search_result",
        "data": [view(d) for d in window],
        "has_more": more,
        "next_page": str(start + limit) if more else None,
        "url": url,
    }
