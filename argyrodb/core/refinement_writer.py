"""Refinement files (``format: argyrodb-refinement/1``, see structures/README.md) written from a
:class:`~argyrodb.core.refinement.Refinement`, so that a refined structure is read back by the same reader."""

from __future__ import annotations

import yaml

from .refinement import Refinement


def refinement_yaml(refinement: Refinement) -> str:
    """The refinement as a YAML text that :func:`argyrodb.core.readers.read_file` reads back unchanged."""

    def plain(value):
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if hasattr(value, "item"):  # numpy scalars
            return value.item()
        return value

    document = {
        "format": "argyrodb-refinement/1",
        "name": refinement.name,
        "nominal_formula": refinement.nominal_formula,
        "space_group": {"symbol": refinement.space_group_symbol, "number": refinement.space_group_number},
        "lattice": {"a_angstrom": refinement.a_angstrom, "note": refinement.a_note},
        "provenance": plain(dict(refinement.provenance)),
        "constraints": [{"labels": list(c.labels), "value": c.value, "source": c.source} for c in refinement.constraints],
        "site_columns": ["label", "element", "wyckoff", "x", "y", "z", "occupancy", "b_iso", "source_row"],
    }
    header = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
    rows = "\n".join(
        f"  - [{s.label}, {s.element}, {s.wyckoff_reported or 'null'}, {s.x!r}, {s.y!r}, {s.z!r}, {s.occupancy!r}, "
        f"{'null' if s.b_iso_angstrom2 is None else repr(s.b_iso_angstrom2)}, {'null' if s.source_row is None else s.source_row}]"
        for s in refinement.sites)
    return f"# argyrodb refinement file (format: structures/README.md)\n{header}sites:\n{rows}\n"
