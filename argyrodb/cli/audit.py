"""``argyrodb audit``: every derived number of the source recomputed."""

from __future__ import annotations

import click

from .. import api, services
from .common import Command, emit_json


def _row_text(row, indent: str) -> str:
    deviation = "" if row.relative_deviation is None else f" ({100 * row.relative_deviation:+.2f} %)"
    return (f"{indent}[{row.verdict}] {row.table} | {row.row} | {row.column}\n{indent}    reported: {row.reported}\n"
            f"{indent}    recomputed: {row.recomputed}{deviation}\n{indent}    {row.reason}")


def _counts_text(slips: dict[str, int], rows: dict[str, int]) -> str:
    return ", ".join(f"{n} {verdict}" + (f" ({rows.get(verdict, 0)} rows)" if rows.get(verdict, 0) != n else "")
                     for verdict, n in sorted(slips.items()))


@click.command(cls=Command)
@click.option("--json", "as_json", is_flag=True, help="All rows as JSON.")
@click.option("--summary", "summary_only", is_flag=True, help="Only the counts per table and verdict.")
@click.option("--all", "show_all", is_flag=True, help="Also list the rows that are consistent.")
def audit(as_json: bool, summary_only: bool, show_all: bool) -> None:
    """Recompute every derived number of the source and report what does not add up.

    Rows that one slip of the source explains (a misprinted value seen through several derived
    quantities) are listed together under it, and the summary counts each slip once.
    """
    rows = api.audit()  # the rows of one slip come together, its most severe row first
    counts = services.audit_summary(rows)
    row_counts = services.audit_summary(rows, by="row")
    groups = services.audit_slips(rows)
    if as_json:
        index = {id(row): i for i, row in enumerate(rows)}
        emit_json({"summary": counts, "summary_rows": row_counts,
                   "slips": [{"slip": group[0].slip, "table": group[0].table, "verdict": group[0].verdict,
                              "rows": [index[id(r)] for r in group]} for group in groups],
                   "rows": [r.as_dict() for r in rows]})
        return
    if not summary_only:
        for group in groups:
            if group[0].verdict == services.CONSISTENT and not show_all:
                continue
            click.echo(_row_text(group[0], ""))
            if len(group) > 1:
                click.echo(f"    the same slip, also seen in {len(group) - 1} more row{'s' if len(group) > 2 else ''}:")
                for row in group[1:]:
                    click.echo(_row_text(row, "      "))
        click.echo("")
    click.echo("audit summary (distinct slips per verdict: the rows one slip explains count once, under the table of its "
               "first row; audit rows in brackets where they differ):")
    total_slips: dict[str, int] = {}
    total_rows: dict[str, int] = {}
    for table in dict.fromkeys([*counts, *row_counts]):
        click.echo(f"  {table:<22} " + _counts_text(counts.get(table, {}), row_counts.get(table, {})))
        for verdict, n in counts.get(table, {}).items():
            total_slips[verdict] = total_slips.get(verdict, 0) + n
        for verdict, n in row_counts.get(table, {}).items():
            total_rows[verdict] = total_rows.get(verdict, 0) + n
    click.echo(f"  {'all':<22} " + _counts_text(total_slips, total_rows))
