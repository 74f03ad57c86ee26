"""The researcher's pages of ``argyrodb db serve`` (issue 24): what the landing page, the search and a material page
show, computed from the database with the same code as the CLI - :func:`~argyrodb.store.queries.normalise_formula`
and :func:`~argyrodb.store.queries.compare` (`db compare`), :class:`~argyrodb.store.queries.MeasurementFilter` and
:func:`~argyrodb.store.queries.query_measurements` (`db query`). No Datasette here: the plugin
(:mod:`argyrodb.store.datasette_plugin`) calls these functions and renders their dicts with the templates in
``store/templates``.
"""

from __future__ import annotations

import functools
import io
import math
import re
import threading
from pathlib import Path

from ..core.chemistry import atomic_mass, is_element
from ..core.errors import InputError, ParameterError
from ..core.files import pyplot
from ..physics.lattice import source_flags
from .connection import ReadOnlyDatabase, database_path
from .optimade_server import file_state
from .plots import literature_figure
from .queries import MeasurementFilter, compare, normalise_formula, query_measurements

#: Columns of a measurement the pages show (measurements_full).
PAGE_COLUMNS = ("measurement_id", "dataset", "dataset_row", "dataset_id", "material_printed", "formula", "structure_type",
                "process", "sigma_mS_cm", "sigma_printed", "sigma_bound", "sigma_bound_mS_cm", "temperature_K", "ccd_mA_cm2", "i_fraction",
                "anode", "role", "own_work", "duplicate_of", "duplicate_reason", "source_key", "ref_number", "doi")
#: Parameters the search form sends; anything else is refused (400), so a typo is not a silently ignored filter.
SEARCH_PARAMETERS = ("formula", "elements", "excludes", "sigma_min", "sigma_max", "i_fraction_min", "i_fraction_max",
                     "process", "anode")
#: The narrow column set the site links the measurements view with (all 48 columns are 5,000 px wide).
MEASUREMENT_VIEW_COLUMNS = ("formula", "material_printed", "sigma_mS_cm", "sigma_printed", "ccd_mA_cm2", "process",
                            "anode", "structure_type", "dataset", "dataset_row", "dataset_id", "doi", "duplicate_of")


def measurements_view_path(database: str) -> str:
    """The measurements view, highest σ first, with :data:`MEASUREMENT_VIEW_COLUMNS` (every column: drop the _col)."""
    from urllib.parse import urlencode

    return f"/{database}/measurements_full?" + urlencode([("_sort_desc", "sigma_mS_cm")] + [("_col", c) for c in MEASUREMENT_VIEW_COLUMNS])


#: matplotlib's pyplot keeps global state; the server answers in threads.
_PLOT_LOCK = threading.Lock()
#: The charts (PNG bytes) per database file and chart, with the file's state they were drawn from: each took about a
#: second to draw on every request; they change only when the database is written.
_CHART_CACHE_LOCK = threading.Lock()
_CHART_CACHE: dict[tuple[str, str], tuple[tuple, bytes]] = {}


def _chart_cached(name: str, db_path: str | Path | None, draw) -> bytes:
    """``draw(path)``'s PNG, drawn again only when the database file has changed (:func:`optimade_server.file_state`)."""
    path = database_path(db_path)
    state = file_state(path)
    with _CHART_CACHE_LOCK:
        cached = _CHART_CACHE.get((str(path), name))
    if cached is not None and cached[0] == state:
        return cached[1]
    png = draw(path)
    with _CHART_CACHE_LOCK:
        _CHART_CACHE[(str(path), name)] = (state, png)
    return png


def _rows(db: ReadOnlyDatabase, sql: str, params=()) -> list[dict]:
    columns, rows = db.execute(sql, list(params))
    return [dict(zip(columns, row)) for row in rows]


def number(value, digits: int = 4) -> str:
    """A number for people: ``digits`` significant figures, no trailing zeros (2.44, 0.033, 9.988); '' for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.{digits}g}"


def material_formula(text: str, db_path: str | Path | None) -> tuple[str, str]:
    """(normalised formula, element-fractions key) of a formula as written, or as printed in a dataset
    (``measurements.material_printed``); InputError when it is neither."""
    try:
        _, facts = normalise_formula(text)
        return facts["formula"], facts["element_fractions_key"]
    except InputError:
        with ReadOnlyDatabase(db_path) as db:
            found = _rows(db, "SELECT DISTINCT mat.formula, mat.element_fractions_key FROM measurements m "
                              "JOIN materials mat ON mat.id = m.material_id WHERE m.material_printed = ?", [text.strip()])
        if len(found) == 1:
            return found[0]["formula"], found[0]["element_fractions_key"]
        raise


def material_page(text: str, db_path: str | Path | None) -> dict:
    """Everything the page of one material shows: the normalised formula, `db compare`'s answer (rank of its value,
    nearest literature compositions), every measurement of that composition (any dataset, duplicates included and
    noted) with its rank among the argyrodite measurements (1 = highest, duplicates and other structure types left
    out, as the canned query where_does_a_material_stand), and its structures with their stored powder patterns."""
    formula, key = material_formula(text, db_path)
    comparison = compare(formula, db_path=db_path)
    cols = ", ".join(f"f.{c}" for c in PAGE_COLUMNS)
    with ReadOnlyDatabase(db_path) as db:
        measurements = _rows(db, f"""
            SELECT {cols},
                   CASE WHEN f.sigma_mS_cm IS NOT NULL THEN (SELECT COUNT(*) FROM measurements_full o
                        WHERE o.sigma_mS_cm > f.sigma_mS_cm AND o.duplicate_of IS NULL AND o.structure_type IS NOT 'other') + 1
                   END AS sigma_rank
            FROM measurements_full f JOIN materials mat ON mat.id = f.material_id
            WHERE mat.element_fractions_key = ? ORDER BY f.sigma_mS_cm IS NULL, f.sigma_mS_cm DESC, f.dataset DESC, f.dataset_row""",
                             [key])
        ranked = _rows(db, "SELECT COUNT(*) AS n FROM measurements_full WHERE sigma_mS_cm IS NOT NULL "
                           "AND duplicate_of IS NULL AND structure_type IS NOT 'other'")[0]["n"]
        structures = _rows(db, """
            SELECT s.id, s.name, s.dataset, s.dataset_id, s.nominal_formula, s.refined_formula, s.space_group_symbol,
                   s.a_angstrom, s.a_source, s.density_g_cm3, s.caveat, s.doi, s.n_errors, s.n_warnings,
                   (SELECT p.id FROM xrd_patterns p WHERE p.structure_id = s.id ORDER BY p.id LIMIT 1) AS pattern_id
            FROM structures s JOIN materials mat ON mat.id = s.material_id
            WHERE mat.element_fractions_key = ?
               OR s.id IN (SELECT ms.structure_id FROM measurement_structures ms JOIN measurements m ON m.id = ms.measurement_id
                           JOIN materials mm ON mm.id = m.material_id WHERE mm.element_fractions_key = ?)
            ORDER BY s.dataset, s.id""", [key, key])
        for structure in structures:
            structure["a_label"] = a_label(structure["a_source"])
            structure["peaks"] = _rows(db, "SELECT two_theta_deg, intensity_rel, hkl FROM xrd_peaks WHERE pattern_id = ? "
                                           "ORDER BY two_theta_deg", [structure["pattern_id"]]) if structure["pattern_id"] else []
            structure["wavelength"] = (_rows(db, "SELECT wavelength FROM xrd_patterns WHERE id = ?", [structure["pattern_id"]])[0]["wavelength"]
                                       if structure["pattern_id"] else None)
        refinements = material_refinements(db, key)
    nearest = comparison["nearest"]
    return {
        "query": text,
        "formula": formula,
        "comparison": comparison,
        "measurements": measurements,
        "n_ranked": ranked,
        "structures": structures,
        "refinements": refinements,
        "nearest": [] if nearest.empty else nearest.to_dict("records"),
        "pattern_svg": pattern_svg(structures) if any(s["peaks"] for s in structures) else None,
    }


def material_refinements(db: ReadOnlyDatabase, key: str) -> list[dict]:
    """The powder refinements stored for a composition (``argyrodb refine DATA --start ... --db``, table refinements):
    those whose refined structure's material (its nominal formula) has the element-fractions ``key``, newest first,
    each with its date (``created_at``'s day), a and its esd (Å), GoF, R_wp in % (stored as a fraction), and every phase's weight fraction in
    wt % (None where the fit gives none). A Pawley fit stores no structure, so it belongs to no material and is not
    listed here (the refinements table has it). Measured patterns themselves are not stored: a refinement keeps its
    data file's name and SHA-256."""
    import json

    rows = _rows(db, """
        SELECT r.id, r.name, r.data_file, r.mode, r.wavelength, r.gof, r.r_wp, r.a_angstrom, r.a_esd_angstrom,
               r.phases_json, r.created_at, r.structure_id
        FROM refinements r JOIN structures s ON s.id = r.structure_id JOIN materials mat ON mat.id = s.material_id
        WHERE mat.element_fractions_key = ? ORDER BY r.created_at DESC, r.id DESC""", [key])
    for row in rows:
        phases = json.loads(row.pop("phases_json") or "[]")
        row["phases"] = [{"name": p.get("name"), "wt_percent": None if p.get("weight_fraction") is None else 100.0 * p["weight_fraction"]}
                         for p in phases]
        row["date"] = (row["created_at"] or "")[:10]
        row["r_wp_percent"] = 100.0 * row.pop("r_wp")
    return rows


def a_label(a_source: str | None) -> str | None:
    """'lattice model' or 'lattice model, extrapolated: <why>' for a stored structure whose a is the lattice
    model's prediction (its a_source says so), None for a refined or reported a."""
    predicted, because = source_flags(a_source)
    if not predicted:
        return None
    return "lattice model" + (f", extrapolated: {because}" if because else "")


def pattern_svg(structures: list[dict]) -> str:
    """The stored simulated powder patterns of ``structures`` (each a dict with name, wavelength and peaks: 2theta in
    degrees, relative intensity 0-100, hkl) as one inline SVG: a stick pattern per structure, stacked, the strongest
    lines labelled by hkl. Drawn once per set of patterns (0.2 s each; a material page asks on every request)."""
    key = tuple((s["name"], s["wavelength"], s.get("a_label"), s.get("a_angstrom"),
                 tuple((p["two_theta_deg"], p["intensity_rel"], p["hkl"]) for p in s["peaks"]))
                for s in structures if s["peaks"])
    return _pattern_svg(key)


@functools.lru_cache(maxsize=64)
def _pattern_svg(key: tuple) -> str:
    from matplotlib.figure import Figure

    shown = [{"name": name, "wavelength": wavelength, "a_label": label, "a_angstrom": a,
              "peaks": [{"two_theta_deg": t, "intensity_rel": i, "hkl": hkl} for t, i, hkl in peaks]}
             for name, wavelength, label, a, peaks in key]
    with _PLOT_LOCK:
        fig = Figure(figsize=(9, 1.2 + 1.6 * len(shown)))
        ax = fig.add_subplot()
        for offset, structure in enumerate(reversed(shown)):
            base = 115.0 * offset
            positions = [p["two_theta_deg"] for p in structure["peaks"]]
            heights = [p["intensity_rel"] or 0.0 for p in structure["peaks"]]
            colour = f"C{len(shown) - 1 - offset}"
            ax.vlines(positions, base, [base + h for h in heights], color=colour, linewidth=1.0)
            # a predicted a on a second line, in a few words (the table above the plot gives the reason)
            label = structure.get("a_label") or ""
            a_note = (f"\na = {structure['a_angstrom']:.4f} Å: {label.split(':')[0]}"
                      if label and structure.get("a_angstrom") is not None else "")
            ax.text(0.995, (base + 100) / (115.0 * len(shown)), f"{structure['name']} ({structure['wavelength']}){a_note}",
                    transform=ax.transAxes, ha="right", va="top", fontsize=8, color=colour)
            for peak in sorted(structure["peaks"], key=lambda p: -(p["intensity_rel"] or 0.0))[:4]:
                ax.annotate(peak["hkl"], (peak["two_theta_deg"], base + (peak["intensity_rel"] or 0.0)), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7, color=colour)
        ax.set_xlim(10, 80)
        ax.set_ylim(0, 115.0 * len(shown))
        ax.set_yticks([])
        ax.set_xlabel("2θ (degrees)")
        ax.set_ylabel("relative intensity")
        ax.set_title("Simulated powder patterns (stored lines, strongest = 100; shown 10-80°)", fontsize=10)
        fig.tight_layout()
        out = io.StringIO()
        fig.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


def cif_file(structure_id: str, db_path: str | Path | None) -> tuple[str, str]:
    """(file name, full CIF text) of one stored structure; ParameterError for an ID that is not a number,
    LookupError for one not stored."""
    if not re.fullmatch(r"\d{1,9}", structure_id):
        raise ParameterError("structure", f"{structure_id!r} is not a structure ID (a number, as in structures.id)")
    with ReadOnlyDatabase(db_path) as db:
        rows = _rows(db, "SELECT name, cif_text FROM structures WHERE id = ?", [int(structure_id)])
    if not rows or not rows[0]["cif_text"]:
        raise LookupError(f"no structure with ID {structure_id} (or it has no CIF)")
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", rows[0]["name"]).strip("_") or f"structure_{structure_id}"
    return f"{name}.cif", rows[0]["cif_text"]


def _number_parameter(name: str, text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(name, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ParameterError(name, f"{text!r} is not a finite number")
    return value


def element_list(name: str, values: list[str]) -> list[str]:
    """Elements from the form: repeated parameters, or one value separated by commas or spaces ('Cl,I', 'Cl I')."""
    out: list[str] = []
    for value in values:
        for symbol in re.split(r"[\s,;]+", value.strip()):
            if not symbol:
                continue
            symbol = symbol[:1].upper() + symbol[1:].lower()
            if not is_element(symbol):
                raise ParameterError(name, f"{symbol!r} is not an element")
            if symbol not in out:
                out.append(symbol)
    return out


def search_filter(args: dict[str, list[str]]) -> MeasurementFilter:
    """The `db query` filter of the search form's parameters (``args``: name -> values, as a query string parses);
    ParameterError for an unknown parameter or a bad value."""
    unknown = [name for name in args if name not in SEARCH_PARAMETERS]
    if unknown:
        raise ParameterError(unknown[0], f"unknown search parameter (the search takes {', '.join(SEARCH_PARAMETERS)})")

    def one(name: str) -> str | None:
        values = [v for v in args.get(name, []) if v.strip()]
        if len(values) > 1:
            raise ParameterError(name, f"given {len(values)} times")
        return values[0].strip() if values else None

    return MeasurementFilter(contains=element_list("elements", args.get("elements", [])),
                             excludes=element_list("excludes", args.get("excludes", [])),
                             sigma_min=_number_parameter("sigma_min", one("sigma_min")),
                             sigma_max=_number_parameter("sigma_max", one("sigma_max")),
                             i_fraction_min=_number_parameter("i_fraction_min", one("i_fraction_min")),
                             i_fraction_max=_number_parameter("i_fraction_max", one("i_fraction_max")),
                             process=one("process"), anode=one("anode"))


def search(args: dict[str, list[str]], db_path: str | Path | None) -> dict:
    """The search: ``redirect`` to a material page when the formula is one in the database; else the measurements
    matching the filters (as `argyrodb db query` with the same options: duplicates left out, any structure type),
    and for a formula not in the database its nearest literature compositions (`db compare`)."""
    filters = search_filter(args)
    formula_text = (args.get("formula") or [""])[0].strip()
    result: dict = {"formula": formula_text, "filters": filters, "rows": [], "nearest": [], "notes": [], "redirect": None,
                    "normalised": None}
    if formula_text:
        formula, key = material_formula(formula_text, db_path)
        result["normalised"] = formula
        with ReadOnlyDatabase(db_path) as db:
            known = _rows(db, "SELECT formula FROM materials WHERE element_fractions_key = ? "
                              "AND id IN (SELECT material_id FROM measurements UNION SELECT material_id FROM structures)", [key])
        if known:
            result["redirect"] = known[0]["formula"]
            return result
        nearest = compare(formula, db_path=db_path)["nearest"]
        result["nearest"] = [] if nearest.empty else nearest.to_dict("records")
        result["notes"].append(f"{formula} is not in the database; the nearest compositions are listed.")
    if filters != MeasurementFilter() or not formula_text:  # a filter given, or nothing at all: the rows
        frame = query_measurements(filters, sort="-sigma_mS_cm", db_path=db_path, columns=PAGE_COLUMNS)
        result["rows"] = frame.astype(object).where(frame.notna(), None).to_dict("records")
        result["notes"].extend(frame.attrs.get("notes", []))
    return result


def home(db_path: str | Path | None) -> dict:
    """The landing page's facts: elements present in the measured materials (for the chips), processes and anodes
    recorded, counts."""
    with ReadOnlyDatabase(db_path) as db:
        element_lists = [r["elements"] for r in _rows(db, "SELECT DISTINCT mat.elements FROM measurements m "
                                                          "JOIN materials mat ON mat.id = m.material_id")]
        anodes = [r["anode"] for r in _rows(db, "SELECT DISTINCT anode FROM measurements WHERE anode IS NOT NULL "
                                                "AND anode != '' ORDER BY anode")]
        counts = _rows(db, "SELECT (SELECT COUNT(*) FROM measurements) AS measurements, "
                           "(SELECT COUNT(*) FROM materials) AS materials, (SELECT COUNT(*) FROM structures) AS structures")[0]
    elements = sorted({e for text in element_lists for e in (text or "").split(",") if e}, key=_element_order)
    return {"elements": elements, "anodes": anodes, "counts": counts}


def _element_order(symbol: str) -> float:
    return atomic_mass(symbol)  # the periodic table's order (but for Ar/K, Co/Ni, Te/I: none of them argyrodite's)


def literature_chart_png(db_path: str | Path | None) -> bytes:
    """`argyrodb db plot`'s figure (Table S3: sigma versus CCD and sigma by primary phase) as PNG bytes."""
    return _chart_cached("literature", db_path, _literature_chart_png)


def _literature_chart_png(db_path: Path) -> bytes:
    frame = query_measurements(MeasurementFilter(dataset="table_s3"), db_path=db_path)
    with _PLOT_LOCK:
        fig = literature_figure(frame)
        out = io.BytesIO()
        try:
            fig.savefig(out, format="png", dpi=110)
        finally:
            pyplot().close(fig)
    return out.getvalue()


#: Colours of the composition chart by process as stored (measurements.process); other values and none: grey.
PROCESS_COLOURS = {"MM": "#1f77b4", "MM + HT": "#d62728", "HT": "#ff7f0e", "SS": "#2ca02c"}


def composition_chart_png(db_path: str | Path | None) -> bytes:
    """σ against I/(Cl+Br+I) and against the halide content per formula unit, every argyrodite measurement with a
    conductivity (duplicates left out, as `db query --structure-type argyrodite`), coloured by process, the source's
    own marked with a star; PNG bytes."""
    return _chart_cached("composition", db_path, _composition_chart_png)


def _composition_chart_png(db_path: Path) -> bytes:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    frame = query_measurements(MeasurementFilter(structure_type="argyrodite"), db_path=db_path,
                               columns=("formula", "sigma_mS_cm", "i_fraction", "halide_total", "process", "own_work"))
    frame = frame.dropna(subset=["sigma_mS_cm"])
    with _PLOT_LOCK:
        fig = Figure(figsize=(12, 4.8))
        panels = fig.subplots(1, 2, sharey=True)
        for ax, column, label in ((panels[0], "i_fraction", "I / (Cl + Br + I)"), (panels[1], "halide_total", "halide per formula unit")):
            shown = frame.dropna(subset=[column])
            colours = [PROCESS_COLOURS.get(p or "", "#7f7f7f") for p in shown["process"]]
            sizes = [140 if own else 28 for own in shown["own_work"]]
            markers = shown["own_work"] == 1
            ax.scatter(shown.loc[~markers, column], shown.loc[~markers, "sigma_mS_cm"],
                       c=[c for c, m in zip(colours, markers) if not m], s=28, alpha=0.85)
            ax.scatter(shown.loc[markers, column], shown.loc[markers, "sigma_mS_cm"],
                       c=[c for c, m in zip(colours, markers) if m], s=[s for s, m in zip(sizes, markers) if m], marker="*",
                       edgecolors="black", linewidths=0.6, zorder=3)
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.grid(True, which="major", alpha=0.3)
        panels[0].set_ylabel("σ (mS/cm)")
        handles = [Line2D([], [], marker="o", ls="none", color=c, label=p) for p, c in PROCESS_COLOURS.items()]
        handles += [Line2D([], [], marker="o", ls="none", color="#7f7f7f", label="not recorded"),
                    Line2D([], [], marker="*", ls="none", color="white", markeredgecolor="black", ms=11, label="the source's own")]
        panels[1].legend(handles=handles, loc="lower right", fontsize=8)
        fig.suptitle(f"Conductivity against composition: {len(frame)} argyrodite measurements (duplicates left out)", fontsize=11)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=110)
    return out.getvalue()
