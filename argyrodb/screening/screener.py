"""Composition screening: every composition of a family (or a list of formulas) placed on the template's
sites by :mod:`argyrodb.screening.site_model`, with the lattice parameter of the one lattice model
(:func:`argyrodb.physics.lattice.predict`, with its uncertainty), the X-ray density and the powder lines.

Compositions that are not charge-neutral, or whose anions do not fit the sites, are reported and
skipped, never built.

Fast path: all compositions of a family share the template's sites, so one :class:`XRDModel` with
cached phase sums serves every composition; only the occupancy matrix and a change.
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
    formal_charge,
    format_formula,
    parse_formula,
)
from ..core.errors import InputError, ParameterError
from ..core.readers import read_file
from ..core.resources import structure_file
from ..physics import lattice
from ..physics.density import xray_density_g_cm3
from ..physics.scattering import resolve_wavelength
from ..physics.xrd import XRDModel, hkl_label
from .families import grid, parse_family
from .site_model import Infeasible, SiteModel

#: The default template: the source's Rietveld refinement of LMA-Cl0.8I0.6 (Table S2).
DEFAULT_TEMPLATE_NAME = "LMA-Cl0.8I0.6"


def default_template() -> str:
    """Path of the packaged default template refinement."""
    return str(structure_file(DEFAULT_TEMPLATE_NAME))


def analysed_template(path: str | Path) -> AnalysedStructure:
    """The template refinement, read and analysed (at its own or the predicted lattice parameter)."""
    return require_argyrodite(lattice.analysed(read_file(path)))


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

    def key(self) -> str:
        payload = {k: v for k, v in self.__dict__.items() if k != "store_peaks"}
        template = Path(self.template)
        payload["template"] = template.name
        payload["template_sha256"] = hashlib.sha256(template.read_bytes()).hexdigest() if template.is_file() else None
        payload["version"] = __version__
        payload["lattice_model"] = lattice.model().coefficients  # a recalibrated model is a new run
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:16]

    def compositions(self) -> list[tuple[dict[str, float], dict[str, float]]]:
        """(variable values, composition per formula unit) for every grid point or listed formula."""
        if self.formulas:
            return [({}, parse_formula(f, source="formula list")) for f in self.formulas]
        family = parse_family(self.family)
        missing = [v for v in family.variables if v not in self.ranges]
        if missing:
            raise ParameterError(missing[0], f"{self.family} needs a range for the variable(s) {', '.join(missing)}")
        return [(values, family.composition(values)) for values in grid({v: self.ranges[v] for v in family.variables})]


class Screener:
    """Everything a composition needs, precomputed once per run (site model, XRD model, masses, lattice model)."""

    def __init__(self, settings: ScreenSettings):
        self.settings = settings
        elements: set[str] = set()
        self.points = settings.compositions()
        for _, amounts in self.points:
            elements |= set(amounts)
        self.model = SiteModel.from_template(analysed_template(settings.template), settings.distribution, tuple(sorted(elements)))
        self.xrd = XRDModel(self.model.groups, np.eye(3) * 10.0, name=settings.family, f43m=True)
        self.components = resolve_wavelength(settings.wavelength)
        self.fit = lattice.model()  # the lattice model, recorded with every run
        self.masses = np.array([atomic_mass(el) for el in self.model.elements])

    def evaluate(self, index: int) -> dict:
        """One composition's screening result (see :meth:`evaluate_chunk`)."""
        return self.evaluate_chunk([index])[0]

    def _prepare(self, index: int) -> dict:
        """The per-composition part of a result (charge, occupancies, lattice parameter, density); ``status``
        'skipped' with the reason when the composition cannot be screened."""
        values, amounts = self.points[index]
        formula = format_formula(amounts)
        base = {"idx": index, "variables_json": json.dumps(values, sort_keys=True), "formula": formula,
                "amounts_json": json.dumps({el: round(n, 6) for el, n in amounts.items() if abs(n) > 1e-12})}
        negative = [el for el, n in amounts.items() if n < -1e-12]
        if negative:
            return {**base, "status": "skipped", "reason": f"negative amount of {', '.join(negative)}"}
        amounts = {el: n for el, n in amounts.items() if n > 1e-12}
        charge, unknown = formal_charge(amounts)
        if unknown or abs(charge) > NEUTRAL_TOLERANCE:
            return {**base, "status": "skipped", "reason": f"not charge-neutral ({charge:+.3f} e per formula unit)"
                    if not unknown else f"no oxidation state for {', '.join(unknown)}"}
        try:
            occupancy = self.model.occupancies(amounts)
        except Infeasible as exc:
            return {**base, "status": "skipped", "reason": str(exc)}
        try:
            a, a_sigma, notes = lattice.predict_values(amounts, formula)
        except InputError as exc:
            return {**base, "status": "skipped", "reason": f"no lattice parameter: {exc.problem}"}
        cell_mass = float((occupancy * self.model.multiplicities[:, None]).sum(axis=0) @ self.masses)
        return {**base, "status": "ok", "reason": None, "a_angstrom": a, "a_sigma_angstrom": a_sigma,
                "a_note": f"extrapolated: {'; '.join(notes)}" if notes else None,
                "volume_angstrom3": a**3, "density_g_cm3": xray_density_g_cm3(cell_mass, a), "charge_per_fu": charge,
                "_occupancy": occupancy}

    def evaluate_chunk(self, indices: list[int]) -> list[dict]:
        """Screening results of several compositions: the per-composition part one by one, the powder patterns of
        all of them in one vectorised call (:meth:`XRDModel.batch_peak_arrays`, equal to one at a time)."""
        results = [self._prepare(i) for i in indices]
        ok = [r for r in results if r["status"] == "ok"]
        if not ok:
            return results
        batch = self.xrd.batch_peak_arrays(
            np.array([r["a_angstrom"] for r in ok]), np.stack([r.pop("_occupancy") for r in ok]),
            wavelength=self.components, two_theta_range=self.settings.two_theta_range,
            anomalous_dispersion=self.settings.anomalous_dispersion)
        labels = self._line_labels()
        names = [c.name for c in self.components]
        for row, result in enumerate(ok):
            present = batch["present"][row]
            intensity = batch["intensity"][row][present]
            keys = batch["line_key"][present]
            two_theta = batch["two_theta_deg"][row][present]
            strongest = int(np.argmax(intensity)) if intensity.size else None
            result.update({
                "n_lines": int(intensity.size),
                "strongest_hkl": None if strongest is None else labels[int(keys[strongest])][0],
                "strongest_two_theta_deg": None if strongest is None else float(two_theta[strongest]),
            })
            if self.settings.store_peaks and intensity.size:
                rel = np.minimum(100.0, 100.0 * intensity / intensity.max())
                result["peaks"] = [  # (hkl text, first family, 2theta, d, multiplicity, I_rel, component name)
                    (*labels[int(k)], float(t), float(d), int(m), float(r), names[int(c)])
                    for k, t, d, m, r, c in zip(keys, two_theta, batch["d_angstrom"][row][present],
                                                batch["multiplicity"][present], rel, batch["component"][present])
                ]
        return results

    def lattice(self, index: int):
        """The lattice parameter of composition ``index`` (the lattice model's prediction)."""
        return lattice.predict(self.points[index][1], self.settings.family)

    def _line_labels(self) -> dict[int, tuple[str, tuple[int, int, int]]]:
        cache = self.xrd._cache
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
