"""Questions to the database, answered as pandas DataFrames. Every filter value is bound as a
parameter; column names in ORDER BY come from a fixed list."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..core.analysis import nominal_composition
from ..core.chemistry import is_element, parse_formula
from ..core.errors import InputError, ParameterError
from ..core.readers import read_file
from .connection import ReadOnlyDatabase
from .literature import composition_distance, formula_facts

MEASUREMENT_COLUMNS = (
    "measurement_id", "dataset", "dataset_row", "material_printed", "formula", "primary_phase", "process",
    "sigma_mS_cm", "sigma_kind", "ccd_mA_cm2", "anode", "role", "own_work", "ref_number", "source_key", "doi",
    "i_fraction", "halide_total", "charge_per_fu", "charge_neutral", "chemical_system", "duplicate_of",
    "correction_note", "sigma_censored", "licence",
)
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
    dataset: str | None = None  # table_s3 or obelix
    sigma_min: float | None = None
    sigma_max: float | None = None
    ccd_min: float | None = None
    ccd_max: float | None = None
    i_fraction_min: float | None = None
    i_fraction_max: float | None = None
    charge_neutral: bool | None = None
    text: str | None = None  # full text over materials (formula, chemical system) and references
    include_duplicates: bool = False

    def __post_init__(self):
        """Bounds must be finite numbers with min <= max: a NaN bound would match nothing and report success."""
        for low, high in (("sigma_min", "sigma_max"), ("ccd_min", "ccd_max"), ("i_fraction_min", "i_fraction_max")):
            for name in (low, high):
                value = getattr(self, name)
                if value is not None and not math.isfinite(value):
                    raise ParameterError(name, f"must be a finite number, got {value}")
            if getattr(self, low) is not None and getattr(self, high) is not None and getattr(self, low) > getattr(self, high):
                raise ParameterError(low, f"the minimum {getattr(self, low):g} is greater than the maximum {getattr(self, high):g}")

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
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
        for column, low, high in (("sigma_mS_cm", self.sigma_min, self.sigma_max), ("ccd_mA_cm2", self.ccd_min, self.ccd_max),
                                  ("i_fraction", self.i_fraction_min, self.i_fraction_max)):
            if low is not None:
                clauses.append(f"{column} >= ?")
                params.append(float(low))
            if high is not None:
                clauses.append(f"{column} <= ?")
                params.append(float(high))
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
    if column not in SORTABLE:
        raise ParameterError("sort", f"cannot sort by {column!r} (one of {', '.join(sorted(SORTABLE))}; prefix - for descending)")
    return f" ORDER BY {column} IS NULL, {column} {'DESC' if descending else 'ASC'}, dataset DESC, dataset_row"


def query_measurements(filters: MeasurementFilter | None = None, sort: str | None = None, limit: int | None = None,
                       db_path: str | Path | None = None, columns=MEASUREMENT_COLUMNS):
    """Measurements matching ``filters`` (joined with their material and reference) as a DataFrame."""
    filters = filters or MeasurementFilter()
    where, params = filters.where()
    sql = f"SELECT {', '.join(columns)} FROM measurements_full{where}{_order(sort)}"
    if limit is not None:
        if limit < 0:
            raise ParameterError("limit", f"limit must be >= 0, got {limit}")
        sql += " LIMIT ?"
        params.append(int(limit))
    with ReadOnlyDatabase(db_path) as db:
        frame = db.dataframe(sql, params)
    for column in ("ref_number", "duplicate_of"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


def run_sql(sql: str, db_path: str | Path | None = None, timeout_s: float = 10.0):
    """Any read-only SQL: the connection refuses writes; long queries are interrupted."""
    if not timeout_s > 0 or timeout_s == float("inf"):
        raise ParameterError("timeout_s", f"must be a positive number of seconds, got {timeout_s:g}")
    with ReadOnlyDatabase(db_path, timeout_s=timeout_s) as db:
        return db.dataframe(sql)


def _target_formula(formula_or_structure: str) -> tuple[str, dict[str, float]]:
    path = Path(formula_or_structure)
    if path.suffix.lower() in (".yaml", ".yml", ".cif"):
        refinement = read_file(path)
        composition = nominal_composition(refinement)
        if not composition:
            raise InputError(path, "no nominal formula to compare")
        return refinement.name, composition
    return formula_or_structure, parse_formula(formula_or_structure, source=formula_or_structure)


def _summary(frame, prefix: str = "") -> dict:
    """n and min/median/max of sigma and CCD over the rows of ``frame``."""
    out = {"n": int(len(frame))}
    for column, short in (("sigma_mS_cm", "sigma"), ("ccd_mA_cm2", "ccd")):
        values = frame[column].dropna()
        for stat in ("min", "median", "max"):
            out[f"{short}_{stat}"] = None if values.empty else float(getattr(values, stat)())
    return out


def compare(formula_or_structure: str, sigma_mS_cm: float | None = None, ccd_mA_cm2: float | None = None,
            n_nearest: int = 5, dataset: str | None = None, db_path: str | Path | None = None) -> dict:
    """Where a material stands among the literature measurements.

    * ``exact_matches``: every measurement of the same composition (equal element fractions), always
      listed, with n and min/median/max sigma and CCD (``exact_summary``);
    * the value ranked: ``sigma_mS_cm``/``ccd_mA_cm2`` when given, else the source's own measurement of
      it, else the median of the exact matches - ``values_from`` says which;
    * ``sigma_rank``/``ccd_rank`` among all other measurements, 1 = highest;
    * ``nearest``: the nearest other compositions (total-variation distance of element fractions), one row
      per composition with n, min/median/max sigma and CCD, and the measurement rows they come from.
    """
    if n_nearest < 1:
        raise ParameterError("n_nearest", f"must be at least 1, got {n_nearest}")
    for name, value in (("sigma_mS_cm", sigma_mS_cm), ("ccd_mA_cm2", ccd_mA_cm2)):
        if value is not None and not value > 0:
            raise ParameterError(name, f"must be positive, got {value:g}")
    name, formula = _target_formula(formula_or_structure)
    key = formula_facts(formula)["element_fractions_key"]
    everything = query_measurements(MeasurementFilter(dataset=dataset), db_path=db_path,
                                    columns=MEASUREMENT_COLUMNS + ("amounts_json", "dataset_id"))
    with ReadOnlyDatabase(db_path) as db:
        keys = dict(db.execute("SELECT id, element_fractions_key FROM materials")[1])
        material_ids = dict(db.execute("SELECT id AS measurement_id, material_id FROM measurements")[1])
    everything["is_target"] = [keys[material_ids[m]] == key for m in everything["measurement_id"]]
    everything["row"] = [f"{d} {i}" if isinstance(i, str) and i else f"{d} row {int(r)}" for d, i, r in
                         zip(everything["dataset"], everything["dataset_id"], everything["dataset_row"])]
    exact = everything[everything["is_target"]].sort_values(["own_work", "dataset", "dataset_row"], ascending=[False, False, True])
    own = exact[exact["own_work"] == 1]
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
    }
