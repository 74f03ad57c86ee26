"""``argyrodb audit``: every derived number of the source recomputed."""

from __future__ import annotations

import click

from .. import api
from .common import Command, emit_json


@click.command(cls=Command)
@click.option("--json", "as_json", is_flag=True, help="All rows as JSON.")
@click.option("--summary", "summary_only", is_flag=True, help="Only the counts per table and verdict.")
@click.option("--all", "show_all", is_flag=True, help="Also list the rows that are consistent.")
def audit(as_json, summary_only, show_all):
    """Recompute every derived number of the source and report what does not add up."""
    rows = api.run_audit()
    counts = api.audit_summary(rows)
    if as_json:
        emit_json({"summary": counts, "rows": [r.as_dict() for r in rows]})
        return
    if not summary_only:
        for row in rows:
            if row.verdict == api.CONSISTENT and not show_all:
                continue
            deviation = "" if row.relative_deviation is None else f" ({100 * row.relative_deviation:+.2f} %)"
            click.echo(f"[{row.verdict}] {row.table} | {row.row} | {row.column}\n    reported: {row.reported}\n"
                       f"    recomputed: {row.recomputed}{deviation}\n    {row.reason}")
        click.echo("")
    click.echo("audit summary (rows per verdict):")
    for table, verdicts in counts.items():
        click.echo(f"  {table:<22} " + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())))
