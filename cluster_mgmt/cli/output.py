"""One way to print results: tables for humans, JSON for machines.

Every command with ``-o table|json`` goes through here, so columns, widths and JSON layout
are the same everywhere. rich is imported only when a table is printed.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from typing import Any

import click


def echo_json(data: Any) -> None:
    """Pretty JSON on stdout (two-space indent, key order kept)."""
    click.echo(json.dumps(data, indent=2))


def echo_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    numeric: Sequence[int] = (),
) -> None:
    """A table on stdout: rich on a terminal, fixed-width plain columns when piped.

    Args:
        headers: column titles.
        rows: cells as text, one sequence per row.
        title: a line above the table.
        numeric: indexes of right-aligned columns.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="right" if index in numeric else "left")
    for row in rows:
        table.add_row(*row)
    if sys.stdout.isatty():
        Console(soft_wrap=False).print(table)
        return
    # Piped: a wide table (not rich's 80 columns) without blank edges, for grep and diff.
    buffer = io.StringIO()
    Console(file=buffer, width=200, soft_wrap=False).print(table)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    click.echo("\n".join(lines).strip("\n"))
