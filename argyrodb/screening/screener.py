"""Composition screening: every composition of a family (or a list of formulas) placed on the template's
sites by :mod:`argyrodb.screening.site_model`, with the lattice parameter of the one lattice model
(:func:`argyrodb.physics.lattice.predict`, with its uncertainty), the X-ray density and the powder lines.

Compositions that are not charge-neutral, or whose anions do not fit the sites, are reported and
skipped, never built.

Fast path: all compositions of a family share the template's sites, so one :class:`XRDModel` with
cached phase sums serves every composition; only the occupancy matrix and a change. A chunk of compositions
is one set of array operations from the grid to the peak intensities (amounts, charges, site occupancies,
lattice parameters, densities, patterns); the grid itself is never built (:class:`CompositionPoints`), so a
run of millions of points holds one chunk at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..core.analysis import AnalysedStructure, require_argyrodite
from ..core.chemistry import (
    NEUTRAL_TOLERANCE,
    atomic_mass,
    formal_charges,
    format_formulas,
    parse_formula,
)
from ..core.errors import ParameterError
from ..core.readers import read_file
from ..core.resources import structure_file
from ..physics import lattice
from ..physics.bvse import CompositionBVSE
from ..physics.density import xray_density_g_cm3
from ..physics.scattering import resolve_wavelength
from ..physics.structure import analysed
from ..physics.xrd import XRDModel, hkl_label
from ..store.screening_runs import ScreenLines, intensities_text, line_positions, parse_intensities
from .families import GridPoints, parse_family
from .nearest import NearestMaterials
from .site_model import SiteModel

#: The default template: the source's Rietveld refinement of LMA-Cl0.8I0.6 (Table S2).
DEFAULT_TEMPLATE_NAME = "LMA-Cl0.8I0.6"


def default_template() -> str:
    """Path of the packaged default template refinement."""
    return str(structure_file(DEFAULT_TEMPLATE_NAME))


def analysed_template(path: str | Path) -> AnalysedStructure:
    """The template refinement, read and analysed (at its own or the predicted lattice parameter)."""
    return require_argyrodite(analysed(read_file(path)))


@dataclass
class ScreenSettings:
    family: str
    ranges: dict[str, list[float]] = field(default_factory=dict)
    formulas: list[str] | None = None
    distribution: str = "template"
    template: str = field(default_factory=default_template)
    wavelength: str = "CuKa1"
    two_theta_range: tuple[float, float] = (10.0, 80.0)
    anomalous_dispersion: bool = True
    store_peaks: bool = True
    #: BVSE Li percolation energies per composition (screen --bvse; ~50 ms each, off by default)
    bvse: bool = False

    def key(self) -> str:
        """What identifies a run (settings and the template file's digest) as text: equal keys resume one run."""
        payload = {k: v for k, v in self.__dict__.items() if k != "store_peaks" and not (k == "bvse" and not v)}
        template = Path(self.template)
        payload["template"] = template.name
        payload["template_sha256"] = hashlib.sha256(template.read_bytes()).hexdigest() if template.is_file() else None
        payload["version"] = __version__
        payload["lattice_model"] = lattice.model().coefficients  # a recalibrated model is a new run
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:16]

    def compositions(self) -> CompositionPoints:
        """(variable values, composition per formula unit) for every grid point or listed formula, as a
        lazy sequence."""
        return CompositionPoints(self)


def _json_objects(columns: dict[str, list], n: int) -> list[str]:
    """``json.dumps`` of n objects given by columns (key -> n values; None leaves the key out), one member text
    per distinct value: a grid repeats values."""
    members = []
    for key, column in columns.items():
        seen: dict = {}
        members.append([seen[v] if v in seen else seen.setdefault(v, None if v is None else f'"{key}": {float(v)!r}')
                        for v in column])
    return ["{" + ", ".join(m for m in row if m is not None) + "}" for row in zip(*members)] if members else ["{}"] * n


class CompositionPoints:
    """The compositions of a screen without building them all: a family's grid is a :class:`GridPoints`, and
    :meth:`batch` turns point numbers into an amounts matrix (points x :attr:`elements`) in one step.
    ``points[i]`` is (variable values, element -> amount per formula unit), as a list would give."""

    def __init__(self, settings: ScreenSettings):
        if settings.formulas:
            parsed = [parse_formula(f, source="formula list") for f in settings.formulas]
            self.elements = list(dict.fromkeys(el for amounts in parsed for el in amounts))
            self._matrix = np.array([[amounts.get(el, 0.0) for el in self.elements] for amounts in parsed], dtype=float)
            self._grid = None
            self.family = None
            return
        self.family = parse_family(settings.family)
        missing = [v for v in self.family.variables if v not in settings.ranges]
        if missing:
            raise ParameterError(missing[0], f"{settings.family} needs a range for the variable(s) {', '.join(missing)}")
        self.elements = self.family.elements
        self._grid = GridPoints({v: settings.ranges[v] for v in self.family.variables})

    def __len__(self) -> int:
        return len(self._matrix) if self._grid is None else len(self._grid)

    def batch(self, indices) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(variable -> values, amounts matrix (n, :attr:`elements`)) of the points ``indices``."""
        indices = np.asarray(indices, dtype=np.int64)
        if self._grid is None or self.family is None:  # a formula list (a family has both)
            return {}, self._matrix[indices]
        values = self._grid.arrays(indices)
        return values, self.family.amount_matrix(values, len(indices))

    def __getitem__(self, index: int) -> tuple[dict[str, float], dict[str, float]]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        values, matrix = self.batch([index % len(self)])
        amounts = {el: float(v) for el, v in zip(self.elements, matrix[0])}
        if self._grid is None:  # a listed formula: its own elements only
            amounts = {el: v for el, v in amounts.items() if v != 0}
        return {name: float(v[0]) for name, v in values.items()}, amounts

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class Screener:
    """Everything a composition needs, precomputed once per run (site model, XRD model, masses, lattice model);
    ``nearest``: the literature to report the nearest material of (:class:`NearestMaterials`), or None."""

    def __init__(self, settings: ScreenSettings, literature=None):
        self.settings = settings
        self.points = settings.compositions()
        self.model = SiteModel.from_template(analysed_template(settings.template), settings.distribution,
                                             tuple(sorted(self.points.elements)))
        self.xrd = XRDModel(self.model.groups, np.eye(3) * 10.0, name=settings.family, f43m=True)
        self.components = resolve_wavelength(settings.wavelength)
        self.fit = lattice.model()  # the lattice model, recorded with every run
        self.masses = np.array([atomic_mass(el) for el in self.model.elements])
        self.nearest = None if literature is None else NearestMaterials(literature)
        self._model_columns = [self.model.elements.index(el) for el in self.points.elements]
        self.bvse = (CompositionBVSE([g.images for g in self.model.groups], self.model.elements)
                     if settings.bvse else None)

    def evaluate(self, index: int) -> dict:
        """One composition's screening result (see :meth:`evaluate_chunk`)."""
        return self.evaluate_chunk([index])[0]

    def evaluate_chunk(self, indices) -> list[dict]:
        """Screening results of the points ``indices``, every step an array operation over the chunk.

        Each result: ``idx``, the variables and amounts (JSON), formula, ``status`` ('ok', or 'skipped' with the
        ``reason``: a negative amount, not charge-neutral, no site for an anion, no lattice parameter), a with its
        sigma, extrapolation note and ``extrapolated`` (outside the lattice model's calibration), volume, X-ray
        density, charge, the number of lines and the strongest one,
        the nearest literature material when :attr:`nearest` is set, the BVSE Li percolation energies
        ``bvse_e_1d_eV``, ``bvse_e_2d_eV``, ``bvse_e_3d_eV`` with ``settings.bvse`` (the composition on the template's
        sites at its predicted a, shared sites by occupancy: :class:`argyrodb.physics.bvse.CompositionBVSE`), and (with ``store_peaks``) the relative
        intensities ``intensities_rel`` (fixed-width text, 3 decimals, blank where a line is outside the 2theta range) over
        the lines of ``lines`` (:class:`ScreenLines`, shared by the chunk): plain values, cheap to send from a
        worker process or a Dask worker."""
        indices = np.asarray(indices, dtype=np.int64)
        values, matrix = self.points.batch(indices)
        elements = self.points.elements
        n = len(indices)
        formulas = format_formulas(matrix, elements)
        reasons: list[str | None] = [None] * n

        def refuse(rows, text) -> None:
            for row in np.flatnonzero(rows):
                if reasons[row] is None:
                    reasons[row] = text(row)

        refuse((matrix < -1e-12).any(axis=1), lambda r: "negative amount of " + ", ".join(
            el for el, v in zip(elements, matrix[r]) if v < -1e-12))
        positive = np.where(matrix > 1e-12, matrix, 0.0)
        charge, unknown = formal_charges(positive, elements)
        refuse(unknown.any(axis=1), lambda r: "no oxidation state for " + ", ".join(
            sorted(el for el, flag in zip(elements, unknown[r]) if flag)))
        refuse(np.abs(charge) > NEUTRAL_TOLERANCE, lambda r: f"not charge-neutral ({charge[r]:+.3f} e per formula unit)")
        in_model = np.zeros((n, len(self.model.elements)))
        in_model[:, self._model_columns] = positive
        occupancy, problems = self.model.occupancy_arrays(in_model, order=self._model_columns)
        refuse(np.array([p is not None for p in problems]), lambda r: problems[r])
        a, a_sigma, notes, lattice_problems = self.fit.predict_arrays(positive, elements)
        refuse(np.array([p is not None for p in lattice_problems]),
               lambda r: f"no lattice parameter: {formulas[r]}: {lattice_problems[r]}")
        ok = np.array([r is None for r in reasons], dtype=bool)
        cell_mass = (occupancy * self.model.multiplicities[None, :, None]).sum(axis=1) @ self.masses
        density = xray_density_g_cm3(cell_mass, np.where(ok, a, 1.0))
        variables_json = _json_objects({k: values[k].tolist() for k in sorted(values)}, n)
        amounts_json = _json_objects({el: [round(v, 6) if abs(v) > 1e-12 else None for v in matrix[:, j].tolist()]
                                      for j, el in enumerate(elements)}, n)
        results = []
        for row in range(n):
            result = {"idx": int(indices[row]), "variables_json": variables_json[row], "formula": formulas[row],
                      "amounts_json": amounts_json[row]}
            if ok[row]:
                result.update({"status": "ok", "reason": None, "a_angstrom": float(a[row]),
                               "a_sigma_angstrom": float(a_sigma[row]),
                               "a_note": f"extrapolated: {'; '.join(notes[row])}" if notes[row] else None,
                               "extrapolated": bool(notes[row]),
                               "volume_angstrom3": float(a[row]) ** 3, "density_g_cm3": float(density[row]),
                               "charge_per_fu": float(charge[row])})
            else:
                result.update({"status": "skipped", "reason": reasons[row]})
            results.append(result)
        rows = np.flatnonzero(ok)
        if not rows.size:
            return results
        self._add_lines([results[r] for r in rows], a[rows], occupancy[rows])
        if self.bvse is not None:
            for r in rows:
                energies = self.bvse.barriers(float(a[r]), occupancy[r])
                results[r].update(bvse_e_1d_eV=energies.e_1d_eV, bvse_e_2d_eV=energies.e_2d_eV, bvse_e_3d_eV=energies.e_3d_eV)
        if self.nearest is not None:
            found = self.nearest.nearest_arrays(positive[rows], elements)
            for result, *columns in zip((results[r] for r in rows), *found.values()):
                result.update(zip(found, columns))
        return results

    def _add_lines(self, results: list[dict], a: np.ndarray, occupancy: np.ndarray) -> None:
        """Line count, strongest line and (with ``store_peaks``) the relative intensities of the ok results."""
        batch = self.xrd.batch_peak_arrays(a, occupancy, wavelength=self.components,
                                           two_theta_range=self.settings.two_theta_range,
                                           anomalous_dispersion=self.settings.anomalous_dispersion)
        labels = self._line_labels(int(batch["line_key"].max(initial=0)))
        present = batch["present"]
        intensity = np.where(present, batch["intensity"], 0.0)
        strongest = np.argmax(intensity, axis=1)
        peak = intensity[np.arange(len(a)), strongest]
        relative = np.where(present, np.minimum(100.0, 100.0 * intensity / np.where(peak > 0, peak, 1.0)[:, None]), np.nan)
        lines = texts = None
        if self.settings.store_peaks:
            keys, components = batch["line_key"], batch["component"]
            positions = line_positions(len(keys) // len(self.components), len(self.components))
            lines = ScreenLines(
                position=tuple(int(p) for p in positions), hkl_sq=tuple(int(k) for k in keys),
                component=tuple(self.components[int(c)].name for c in components),
                wavelength_angstrom=tuple(self.components[int(c)].wavelength_angstrom for c in components),
                hkl=tuple(labels[int(k)][0] for k in keys), multiplicity=tuple(int(m) for m in batch["multiplicity"]))
            texts = intensities_text(positions, relative)
        for row, result in enumerate(results):
            result["n_lines"] = int(present[row].sum())
            if result["n_lines"]:
                result["strongest_hkl"] = labels[int(batch["line_key"][strongest[row]])][0]
                result["strongest_two_theta_deg"] = float(batch["two_theta_deg"][row, strongest[row]])
            else:
                result["strongest_hkl"] = result["strongest_two_theta_deg"] = None
            if lines is not None and texts is not None and texts[row] is not None:
                result["lines"], result["intensities_rel"] = lines, texts[row]

    def peaks(self, result: dict) -> list[tuple]:
        """The peak list of an ok result, by 2theta: (hkl, first family, 2theta, d, multiplicity, I_rel, component)
        tuples; 2theta = 2 asin(lambda sqrt(h^2+k^2+l^2) / 2a) as the database's ``screen_peaks`` computes it, I_rel
        as stored (3 decimals)."""
        lines = result.get("lines")
        if lines is None or not lines.hkl_sq:
            return []
        labels = self._line_labels(max(lines.hkl_sq))
        intensities = parse_intensities(result["intensities_rel"])
        out = []
        for k, position in enumerate(lines.position):
            rel = intensities[position] if position < len(intensities) else None
            if rel is None:
                continue
            d = result["a_angstrom"] / np.sqrt(lines.hkl_sq[k])
            two_theta = 2 * np.degrees(np.arcsin(lines.wavelength_angstrom[k] / (2 * d)))
            out.append((lines.hkl[k], labels[lines.hkl_sq[k]][1], float(two_theta), float(d), lines.multiplicity[k],
                        float(rel), lines.component[k]))
        return sorted(out, key=lambda p: p[2])

    def lattice(self, index: int):
        """The lattice parameter of composition ``index`` (the lattice model's prediction)."""
        return lattice.predict(self.points[index][1], self.settings.family)

    def _line_labels(self, largest_key: int) -> dict[int, tuple[str, tuple[int, int, int]]]:
        """(hkl label, first family) of every line key up to ``largest_key`` at least: the reflections of the last
        chunk, made here when this screener has made none (a result computed by another one: a worker process)."""
        cache = self.xrd._reflections(largest_key, self.xrd.lattice_matrix)
        if getattr(self, "_labels_for", None) is not cache:
            self._labels = {key: (hkl_label(fams), tuple(fams[0]))
                            for key, fams in cache.families.items()}
            self._labels_for = cache
        return self._labels

    def structure(self, index: int):
        """The site-disordered pymatgen Structure of composition ``index`` (for checks and exports)."""
        from pymatgen.core import Lattice, Structure

        _, amounts = self.points[index]
        occupancy = self.model.occupancies(amounts)
        a = self.lattice(index).a_angstrom
        species, coords, b_values = [], [], []
        for group, row in zip(self.model.groups, occupancy):
            mix = {el: float(o) for el, o in zip(self.model.elements, row) if o > 1e-12}
            if not mix:
                continue
            for image in group.images:
                species.append(mix)
                coords.append(image)
                b_values.append(group.b_iso_angstrom2)
        return Structure(Lattice.cubic(a), species, coords, site_properties={"b_iso": b_values})
