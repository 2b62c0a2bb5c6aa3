"""Tables for the CLI: Rich, with a header row, nothing cut short.

In a terminal long values (ids, keys, URLs) fold onto the next line instead of being cut; piped
into a file or ``grep`` each row stays on one line at its full width.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str) -> None:
    """Print ``rows`` under ``headers``, or the ``empty`` sentence when there are none."""
    from rich import box  # noqa: PLC0415 (Rich loads only for commands that print a table)
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    cells = [[str(cell) for cell in row] for row in rows]
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=100_000)  # one line per row for grep and files
    if not cells:
        console.print(empty)
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in cells:
        table.add_row(*row)
    console.print(table)
