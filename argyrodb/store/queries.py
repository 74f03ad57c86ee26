"""Questions to the database, answered as pandas DataFrames. Every filter value is bound as a
parameter; column names in ORDER BY come from a fixed list."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.analysis import nominal_composition
from ..core.chemistry import is_element, parse_formula
from ..core.errors import InputError, ParameterError
from ..core.readers import read_file
from .connection import ReadOnlyDatabase
from .datasets import MEASUREMENTS, USER, dataset_names
from .expressions import Field, compile_expression, json_amount_field, number_comparison
from .literature import composition_distance, formula_facts

MEASUREMENT_COLUMNS = (
    "measurement_id", "dataset", "dataset_row", "dataset_id", "material_printed", "formula", "primary_phase",
    "structure_type", "process", "sigma_mS_cm", "sigma_printed", "sigma_bound", "sigma_bound_mS_cm", "sigma_kind",
    "sigma_method", "temperature_K", "activation_energy_eV", "ccd_mA_cm2", "anode", "role", "own_work", "ref_number",
    "source_key", "doi", "i_fraction", "halide_total", "charge_per_fu", "charge_neutral", "chemical_system",
    "duplicate_of", "duplicate_reason", "correction_note", "sigma_censored", "note", "licence",
)
_TEXT_COLUMNS = {"dataset", "dataset_id", "material_printed", "formula", "primary_phase", "structure_type", "process",
                 "sigma_printed", "sigma_bound", "sigma_kind", "sigma_method", "anode", "role", "source_key", "doi",
                 "chemical_system", "duplicate_reason", "correction_note", "sigma_censored", "note", "licence", "family",
                 "primary_phase_printed", "temperature_note", "authors", "journal", "attribution", "elements"}
_BOOL_COLUMNS = {"own_work", "charge_neutral"}
#: Upper/lower bound of a censored conductivity (NULL unless the printed value is '<...' / '>...').
SIGMA_UPPER_BOUND_SQL = "CASE WHEN sigma_bound = '<' THEN sigma_bound_mS_cm END"
SIGMA_LOWER_BOUND_SQL = "CASE WHEN sigma_bound = '>' THEN sigma_bound_mS_cm END"
#: Names a query expression may use on measurements (every column of measurements_full but JSON ones).
MEASUREMENT_FIELDS = {
    column: Field(column, "text" if column in _TEXT_COLUMNS else "bool" if column in _BOOL_COLUMNS else "number",
                  SIGMA_UPPER_BOUND_SQL if column == "sigma_mS_cm" else None,
                  SIGMA_LOWER_BOUND_SQL if column == "sigma_mS_cm" else None)
    for column in (*MEASUREMENT_COLUMNS, "family", "primary_phase_printed", "temperature_note", "year", "material_id",
                   "structure_id", "user_import_id", "attribution", "journal")
}
STRUCTURE_TYPES = ("argyrodite", "other", "any")
SORTABLE = {"sigma_mS_cm", "ccd_mA_cm2", "i_fraction", "halide_total", "formula", "dataset_row", "year", "charge_per_fu"}
PROCESSES = {"MM", "HT", "SS"}


@dataclass
class MeasurementFilter:
    """Filters of ``argyrodb db query``; every one is optional and they combine with AND."""

    contains: list[str] = field(default_factory=list)  # elements that must all be present
    excludes: list[str] = field(default_factory=list)  # elements that must all be absent
    primary_phase: str | None = None
    process: str | None = None  # MM, HT or SS (mechanical milling, heat treatment, solid state)
    anode: str | None = None
    role: str | None = None
    dataset: str | None = None  # one of the datasets of measurements (argyrodb.store.datasets), any case
    sigma_min: float | None = None
    sigma_max: float | None = None
    ccd_min: float | None = None
    ccd_max: float | None = None
    i_fraction_min: float | None = None
    i_fraction_max: float | None = None
    charge_neutral: bool | None = None
    text: str | None = None  # full text over materials (formula, chemical system) and references
    include_duplicates: bool = False
    #: 'argyrodite': rows not known to be another structure type (unknown counts as argyrodite: user rows
    #: without a structure); 'other': rows known to be another type; None or 'any': all rows.
    structure_type: str | None = None
    expression: str | None = None  # ASE-style expression, e.g. "I>0,sigma_mS_cm>=5" (store.expressions)

    def __post_init__(self):
        """Bounds must be finite numbers with min <= max: a NaN bound would match nothing and report success."""
        for low, high in (("sigma_min", "sigma_max"), ("ccd_min", "ccd_max"), ("i_fraction_min", "i_fraction_max")):
            for name in (low, high):
                value = getattr(self, name)
                if value is not None and not math.isfinite(value):
                    raise ParameterError(name, f"must be a finite number, got {value}")
            if getattr(self, low) is not None and getattr(self, high) is not None and getattr(self, low) > getattr(self, high):
                raise ParameterError(low, f"the minimum {getattr(self, low):g} is greater than the maximum {getattr(self, high):g}")
        for name in ("i_fraction_min", "i_fraction_max"):  # I/(Cl+Br+I) is a fraction: 1.5 would match nothing, silently
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ParameterError(name, f"{value:g} is not a fraction I/(Cl+Br+I) between 0 and 1")
        if self.structure_type is not None and self.structure_type not in STRUCTURE_TYPES:
            raise ParameterError("structure_type", f"{self.structure_type!r} is not one of {', '.join(STRUCTURE_TYPES)}")
        known = dataset_names(MEASUREMENTS)
        if self.dataset is not None and self.dataset.lower() not in known:  # the filter compares without case
            raise ParameterError("dataset", f"unknown dataset of measurements {self.dataset!r} (there are: {', '.join(known)})")

    def where(self) -> tuple[str, list]:
        """The SQL WHERE clause (with ? placeholders) and its parameters for ``measurements_full``."""
        clauses: list[str] = []
        params: list[str | float | int] = []
        for element in self.contains:
            if not is_element(element):
                raise ParameterError("contains", f"unknown element {element!r}")
            clauses.append("elements LIKE ?")
            params.append(f"%,{element},%")
        for element in self.excludes:
            if not is_element(element):
                raise ParameterError("excludes", f"unknown element {element!r}")
            clauses.append("elements NOT LIKE ?")
            params.append(f"%,{element},%")
        for column, value in (("primary_phase", self.primary_phase), ("anode", self.anode), ("role", self.role), ("dataset", self.dataset)):
            if value is not None:
                clauses.append(f"{column} = ? COLLATE NOCASE")
                params.append(value)
        if self.process is not None:
            process = self.process.upper()
            if process not in PROCESSES:
                raise ParameterError("process", f"unknown process {self.process!r} (MM, HT or SS)")
            clauses.append("EXISTS (SELECT 1 FROM json_each(processes) WHERE value = ?)")
            params.append(process)
        for op, bound in ((">=", self.sigma_min), ("<=", self.sigma_max)):  # censored bounds as in expressions
            if bound is not None:
                sql, values = number_comparison(MEASUREMENT_FIELDS["sigma_mS_cm"], op, float(bound))
                clauses.append(sql)
                params.extend(values)
        for column, low, high in (("ccd_mA_cm2", self.ccd_min, self.ccd_max), ("i_fraction", self.i_fraction_min, self.i_fraction_max)):
            if low is not None:
                clauses.append(f"{column} >= ?")
                params.append(float(low))
            if high is not None:
                clauses.append(f"{column} <= ?")
                params.append(float(high))
        if self.structure_type == "argyrodite":
            clauses.append("structure_type IS NOT 'other'")
        elif self.structure_type == "other":
            clauses.append("structure_type = 'other'")
        if self.expression and self.expression.strip():
            sql, values = compile_expression(self.expression, MEASUREMENT_FIELDS, json_amount_field("amounts_json"))
            clauses.append(sql)
            params.extend(values)
        if self.charge_neutral is not None:
            clauses.append("charge_neutral = ?")
            params.append(int(self.charge_neutral))
        if self.text and len(self.text.strip()) < 3:
            # The trigram index cannot match fewer than 3 characters. A chemical symbol means "contains
            # this element"; anything else is a case-sensitive substring of the formulas.
            short = self.text.strip()
            if is_element(short):
                clauses.append("elements LIKE ?")
                params.append(f"%,{short},%")
            else:
                clauses.append("(instr(formula, ?) > 0 OR instr(material_printed, ?) > 0)")
                params.extend([short, short])
        elif self.text:
            phrase = '"' + self.text.replace('"', '""') + '"'
            clauses.append(
                "(material_id IN (SELECT rowid FROM materials_fts WHERE materials_fts MATCH ?)"
                " OR source_key IN (SELECT key FROM sources WHERE rowid IN (SELECT rowid FROM sources_fts WHERE sources_fts MATCH ?)))"
            )
            params.extend([phrase, phrase])
        if not self.include_duplicates:
            clauses.append("duplicate_of IS NULL")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _order(sort: str | None) -> str:
    if not sort:
        return " ORDER BY dataset DESC, dataset_row"
    descending = sort.startswith("-")
    column = sort.lstrip("-+")
    if column not in SORTABLE and column not in MEASUREMENT_FIELDS:
        raise ParameterError("sort", f"cannot sort by {column!r} (a column such as {', '.join(sorted(SORTABLE))}; "
                                     "prefix - for descending)")
    return f" ORDER BY {column} IS NULL, {column} {'DESC' if descending else 'ASC'}, dataset DESC, dataset_row"


#: Filters that cannot match a row that does not record the value: (attribute(s) to clear, SQL "not recorded",
#: what the note calls it). Such rows are left out, and the query says how many.
_NOT_RECORDED = (
    (("anode",), "(anode IS NULL OR anode = '')", "an anode"),
    (("process",), "processes = '[]'", "a process"),
    (("role",), "(role IS NULL OR role = '')", "a role"),
    (("primary_phase",), "primary_phase IS NULL", "a primary phase"),
    (("ccd_min", "ccd_max"), "ccd_mA_cm2 IS NULL", "a CCD"),
    (("sigma_min", "sigma_max"), "(sigma_mS_cm IS NULL AND sigma_bound IS NULL)", "a conductivity"),
)


def _check_columns(columns) -> tuple[str, ...]:
    columns = tuple(columns)
    unknown = [c for c in columns if c not in MEASUREMENT_FIELDS and c not in ("amounts_json", "processes", "elements")]
    if unknown:
        import difflib

        guess = difflib.get_close_matches(unknown[0], list(MEASUREMENT_FIELDS), n=3)
        raise ParameterError("columns", f"unknown column {unknown[0]!r}" + (f" (did you mean {', '.join(guess)}?)" if guess else ""))
    if not columns:
        raise ParameterError("columns", "no columns")
    return columns


def query_measurements(filters: MeasurementFilter | None = None, sort: str | None = None, limit: int | None = None,
                       db_path: str | Path | None = None, columns=MEASUREMENT_COLUMNS, offset: int = 0):
    """Measurements matching ``filters`` (joined with their material and reference) as a DataFrame.

    ``frame.attrs["notes"]`` says how many rows a filter left out only because they do not record the
    filtered value (OBELiX rows have no anode or process: ``anode=Li`` cannot match them)."""
    import dataclasses

    filters = filters or MeasurementFilter()
    columns = _check_columns(columns)
    where, params = filters.where()
    sql = f"SELECT {', '.join(columns)} FROM measurements_full{where}{_order(sort)}"
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and value < 0:
            raise ParameterError(name, f"must be >= 0, got {value}")
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        params.extend([-1 if limit is None else int(limit), int(offset or 0)])
    notes = []
    with ReadOnlyDatabase(db_path) as db:
        frame = db.dataframe(sql, params)
        for attributes, missing_sql, what in _NOT_RECORDED:
            if all(getattr(filters, a) is None for a in attributes):
                continue
            # each name in _NOT_RECORDED is an optional filter (None: no filter), which a str-keyed dict cannot say
            cleared: dict[str, Any] = dict.fromkeys(attributes)
            others = dataclasses.replace(filters, **cleared)
            other_where, other_params = others.where()
            joiner = " AND " if other_where else " WHERE "
            _, rows = db.execute(
                f"SELECT dataset, COUNT(*) FROM measurements_full{other_where}{joiner}{missing_sql} GROUP BY dataset ORDER BY dataset",
                other_params)
            if rows:
                detail = ", ".join(f"{d} {n}" for d, n in rows)
                notes.append(f"left out {sum(n for _, n in rows)} rows that do not record {what} ({detail})")
    for column in ("ref_number", "duplicate_of"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    frame.attrs["notes"] = notes
    return frame


def count_measurements(filters: MeasurementFilter | None = None, db_path: str | Path | None = None) -> int:
    """How many measurements match ``filters``."""
    where, params = (filters or MeasurementFilter()).where()
    with ReadOnlyDatabase(db_path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM measurements_full{where}", params)[1][0][0])


#: Rows ``run_sql`` returns unless told otherwise (a query over screening peaks can return millions).
DEFAULT_SQL_ROW_LIMIT = 10_000


def run_sql(sql: str, db_path: str | Path | None = None, timeout_s: float = 10.0, params: dict | None = None,
            limit: int | None = DEFAULT_SQL_ROW_LIMIT):
    """Any read-only SQL: the connection refuses writes; long queries are interrupted.

    ``params`` binds named parameters (``:name`` in the SQL); at most ``limit`` rows are fetched (None:
    all) and ``frame.attrs["truncated"]`` says whether more were there."""
    if not timeout_s > 0 or timeout_s == float("inf"):
        raise ParameterError("timeout_s", f"must be a positive number of seconds, got {timeout_s:g}")
    if limit is not None and limit < 0:
        raise ParameterError("limit", f"must be >= 0, got {limit}")
    with ReadOnlyDatabase(db_path, timeout_s=timeout_s) as db:
        frame = db.dataframe(sql, params or {}, None if limit is None else limit + 1)
    truncated = limit is not None and len(frame) > limit
    if truncated:
        frame = frame.iloc[:limit]
    frame.attrs["truncated"] = truncated
    return frame


def _target_formula(formula_or_structure: str) -> tuple[str, dict[str, float]]:
    path = Path(formula_or_structure)
    if path.suffix.lower() in (".yaml", ".yml", ".cif"):
        refinement = read_file(path)
        composition = nominal_composition(refinement)
        if not composition:
            raise InputError(path, "no nominal formula to compare")
        return refinement.name, composition
    return formula_or_structure, normalise_formula(formula_or_structure)[0]


def normalise_formula(text: str) -> tuple[dict[str, float], dict]:
    """A formula as written (any element order or spelling `parse_formula` reads: 'Li6PS5Cl1', 'Li5.6PS4.6I0.6Cl0.8')
    -> (element amounts, :func:`~argyrodb.store.literature.formula_facts`): ``facts["formula"]`` is the database's
    normalised formula and ``facts["element_fractions_key"]`` what :func:`compare` matches compositions by. The one
    normalisation of `db compare` and the web site's material pages; a non-formula raises InputError."""
    amounts = parse_formula(text, source=text)
    return amounts, formula_facts(amounts)


def _summary(frame, prefix: str = "") -> dict:
    """n and min/median/max of sigma and CCD over the rows of ``frame``."""
    out: dict[str, float | None] = {"n": len(frame)}
    for column, short in (("sigma_mS_cm", "sigma"), ("ccd_mA_cm2", "ccd")):
        values = frame[column].dropna()
        for stat in ("min", "median", "max"):
            out[f"{short}_{stat}"] = None if values.empty else float(getattr(values, stat)())
    return out


def compare(formula_or_structure: str, sigma_mS_cm: float | None = None, ccd_mA_cm2: float | None = None,
            n_nearest: int = 5, dataset: str | None = None, db_path: str | Path | None = None,
            structure_type: str | None = "argyrodite") -> dict:
    """Where a material stands among the literature measurements.

    * ``exact_matches``: every measurement of the same composition (equal element fractions), always
      listed, with n and min/median/max sigma and CCD (``exact_summary``);
    * the value ranked: ``sigma_mS_cm``/``ccd_mA_cm2`` when given, else the source's own measurement of
      it, else the median of the exact matches - ``values_from`` says which;
    * ``sigma_rank``/``ccd_rank`` among all other measurements, 1 = highest;
    * ``nearest``: the nearest other compositions (total-variation distance of element fractions), one row
      per composition with n, min/median/max sigma and CCD, and the measurement rows they come from;
    * ``structure_type`` 'argyrodite' (default) leaves out rows known to be other structure types (OBELiX's
      "argyrodite" family holds Li6SiO4Cl2 and LiCe(BH4)3Cl); None ranks among every row. ``notes`` says
      what was left out. Censored conductivities ('<1E-10') are not ranked (a bound is not a value).
    """
    if n_nearest < 1:
        raise ParameterError("n_nearest", f"must be at least 1, got {n_nearest}")
    for name, value in (("sigma_mS_cm", sigma_mS_cm), ("ccd_mA_cm2", ccd_mA_cm2)):
        if value is not None and not value > 0:
            raise ParameterError(name, f"must be positive, got {value:g}")
    name, formula = _target_formula(formula_or_structure)
    key = formula_facts(formula)["element_fractions_key"]
    everything = query_measurements(MeasurementFilter(dataset=dataset, structure_type=structure_type), db_path=db_path,
                                    columns=MEASUREMENT_COLUMNS + ("amounts_json",))
    notes = []
    if structure_type == "argyrodite":
        left_out = count_measurements(MeasurementFilter(dataset=dataset, structure_type="other"), db_path)
        if left_out:
            notes.append(f"left out {left_out} rows of other structure types (structure_type=other; "
                         "--structure-type any / structure_type=None includes them)")
    with ReadOnlyDatabase(db_path) as db:
        keys = dict(db.execute("SELECT id, element_fractions_key FROM materials")[1])
        material_ids = dict(db.execute("SELECT id AS measurement_id, material_id FROM measurements")[1])
    everything["is_target"] = [keys[material_ids[m]] == key for m in everything["measurement_id"]]
    everything["row"] = [f"{USER} {i}:{int(r)}" if d == USER else f"{d} {i}" if isinstance(i, str) and i else f"{d} row {int(r)}"
                         for d, i, r in zip(everything["dataset"], everything["dataset_id"], everything["dataset_row"])]
    exact = everything[everything["is_target"]].sort_values(["own_work", "dataset", "dataset_row"], ascending=[False, False, True])
    own = exact[exact["own_work"] == 1]
    stored: str | None
    if len(own):
        used_rows, stored = own.iloc[:1], f"the source's own measurement ({own.iloc[0]['row']})"
    elif len(exact) == 1:
        used_rows, stored = exact, f"the one measurement of it ({exact.iloc[0]['row']})"
    else:
        used_rows, stored = exact, (f"the median of its {len(exact)} measurements" if len(exact) else None)
    summary = _summary(used_rows)
    sigma = sigma_mS_cm if sigma_mS_cm is not None else summary["sigma_median"]
    ccd = ccd_mA_cm2 if ccd_mA_cm2 is not None else summary["ccd_median"]
    others = everything[~everything["measurement_id"].isin(used_rows["measurement_id"])]

    def rank(column: str, value):
        values = others[column].dropna()
        if value is None or value != value:
            return None, int(values.size)
        return int((values > value).sum()) + 1, int(values.size) + 1

    sigma_rank, sigma_n = rank("sigma_mS_cm", sigma)
    ccd_rank, ccd_n = rank("ccd_mA_cm2", ccd)
    literature = everything[~everything["is_target"]].copy()
    literature["distance"] = [composition_distance(formula, json.loads(a)) for a in literature["amounts_json"]]
    groups = []
    for formula_text, rows in literature.groupby("formula", sort=False):
        groups.append({"formula": formula_text, "distance": float(rows["distance"].iloc[0]), **_summary(rows),
                       "rows": "; ".join(rows["row"])})
    import pandas as pd

    nearest = pd.DataFrame(groups).sort_values(["distance", "formula"]).head(n_nearest).reset_index(drop=True) if groups else pd.DataFrame()
    parts = []
    for label, given, column in (("sigma", sigma_mS_cm, "sigma"), ("CCD", ccd_mA_cm2, "ccd")):
        if given is not None:
            parts.append(f"{label} given")
        elif stored and summary[f"{column}_median"] is not None:
            parts.append(f"{label} from {stored}")
    return {
        "name": name,
        "formula": formula_facts(formula)["formula"],
        "sigma_mS_cm": None if sigma is None or sigma != sigma else float(sigma),
        "ccd_mA_cm2": None if ccd is None or ccd != ccd else float(ccd),
        "values_from": "; ".join(parts) or None,
        "rank_order": "1 = highest",
        "sigma_rank": sigma_rank, "sigma_of": sigma_n,
        "ccd_rank": ccd_rank, "ccd_of": ccd_n,
        "exact_summary": _summary(exact),
        "exact_matches": exact[["row", "material_printed", "sigma_mS_cm", "ccd_mA_cm2", "own_work", "ref_number",
                                "doi"]].reset_index(drop=True),
        "nearest": nearest,
        "notes": notes,
    }
