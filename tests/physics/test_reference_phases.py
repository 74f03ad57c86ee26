"""The bundled impurity phases (argyrodb/data/phases): each CIF read by pymatgen and gemmi with the published
numbers of phases.yaml, its density, and its powder pattern from argyrodb's engine against pymatgen's."""

from __future__ import annotations

import warnings

import gemmi
import numpy as np
import pytest
import yaml

from argyrodb.physics.xrd import NoDisplacementWarning, XRDModel
from argyrodb_testing import REPO

PHASES = REPO / "argyrodb" / "data" / "phases"
AVOGADRO = 6.02214076e23

#: The published numbers, typed here from the sources named in phases.yaml (not read back from it).
PUBLISHED = {
    "LiCl": {"a": 5.12952, "sg": "Fm-3m", "formula": "LiCl"},   # Ievins, Straumanis & Karlsons 1938 (COD 1011314)
    "LiBr": {"a": 5.5154, "sg": "Fm-3m", "formula": "LiBr"},    # Fischer, Mueller & Jansen 2004, 25 C
    "LiI": {"a": 6.0257, "sg": "Fm-3m", "formula": "LiI"},      # same paper, alpha-LiI
    "Li2S": {"a": 5.708, "sg": "Fm-3m", "formula": "Li2S",
             "volume": 185.974, "density": 1.641},              # Wyckoff 1963 as COD 9009060 (V, density: COD)
    "Li3PS4": {"a": 12.8190, "b": 8.2195, "c": 6.1236, "sg": "Pnma", "formula": "Li3PS4",
               "volume": 645.23, "b_iso": {"Li": 7.7, "P": 1.62, "S": 2.61}},  # Homma et al. 2011, ICSD 180319
}


def _index() -> dict:
    return {entry["name"]: entry for entry in yaml.safe_load((PHASES / "phases.yaml").read_text())["phases"]}


def load_phase(name: str):
    """The phase as a pymatgen Structure with per-site B (``b_iso`` site property) where the CIF has B."""
    from pymatgen.core import Structure

    path = PHASES / _index()[name]["file"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = Structure.from_file(path)
    block = gemmi.cif.read(str(path)).sole_block()
    labels = list(block.find_loop("_atom_site_label"))
    b_values = list(block.find_loop("_atom_site_B_iso_or_equiv"))
    if b_values:
        by_label = {label: gemmi.cif.as_number(b) for label, b in zip(labels, b_values)}
        structure.add_site_property("b_iso", [by_label[site.label] for site in structure])
    return structure


@pytest.fixture(scope="module")
def index():
    return _index()


def test_index_lists_every_cif_with_a_reference(index):
    assert set(index) == set(PUBLISHED)
    assert sorted(entry["file"] for entry in index.values()) == sorted(p.name for p in PHASES.glob("*.cif"))
    for name, entry in index.items():
        assert entry["reference"]["authors"] and entry["reference"]["year"], name
        assert entry["source_read"].strip(), name
        assert entry["z"] == 4
        assert entry["a_angstrom"] == PUBLISHED[name]["a"]
        assert entry["space_group"] == PUBLISHED[name]["sg"]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_pymatgen_reads_the_published_structure(name, index):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    published = PUBLISHED[name]
    structure = load_phase(name)
    lattice = structure.lattice
    # the CIF's decimals (esd stripped), which pymatgen turns into a matrix and back: last bits only; 1e-6 A is
    # below the last printed digit (1e-4 to 1e-5 A), so a misread digit fails
    assert lattice.a == pytest.approx(published["a"], abs=1e-6)
    assert lattice.b == pytest.approx(published.get("b", published["a"]), abs=1e-6)
    assert lattice.c == pytest.approx(published.get("c", published["a"]), abs=1e-6)
    assert lattice.angles == pytest.approx((90, 90, 90), abs=1e-9)  # degrees, from pymatgen's arccos
    assert structure.composition.reduced_formula == published["formula"]
    z = structure.composition.get_reduced_composition_and_factor()[1]
    assert z == pytest.approx(index[name]["z"], abs=1e-9)  # a count, as pymatgen's float
    assert SpacegroupAnalyzer(structure, symprec=1e-3).get_space_group_symbol() == published["sg"]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_gemmi_reads_the_same_cell_and_group(name, index):
    block = gemmi.cif.read(str(PHASES / index[name]["file"])).sole_block()
    small = gemmi.make_small_structure_from_block(block)
    assert small.cell.a == pytest.approx(PUBLISHED[name]["a"], abs=1e-6)  # as pymatgen's above
    assert small.spacegroup.short_name() == PUBLISHED[name]["sg"]
    assert len(block.find_loop("_space_group_symop_operation_xyz")) == len(small.spacegroup.operations())
    assert len(small.sites) == (7 if name == "Li3PS4" else 2)  # asymmetric unit only: no P1 expansion


def test_density_from_the_published_cells(index):
    from pymatgen.core import Composition

    for name in PUBLISHED:
        structure = load_phase(name)
        formula_mass = Composition(PUBLISHED[name]["formula"]).weight
        density = index[name]["z"] * formula_mass / (AVOGADRO * structure.volume * 1e-24)
        # pymatgen converts u to g with CODATA's u, not (1 g/mol) / N_A: since the 2019 SI they differ by
        # ~1e-9 relative (1.05e-9 with CODATA 2022). rel 1e-8 fails on a wrong Z or formula.
        assert float(structure.density) == pytest.approx(density, rel=1e-8), name
    # LiBr against the handbook density (3.464 g/cm3, recorded in phases.yaml): the cell gives 3.438
    assert float(load_phase("LiBr").density) == pytest.approx(index["LiBr"]["density_g_cm3_literature"], rel=0.01)
    # Li2S against the cell volume 185.974 A^3 and calculated density 1.641 g/cm3 of COD 9009060
    assert load_phase("Li2S").volume == pytest.approx(PUBLISHED["Li2S"]["volume"], abs=5e-4)
    assert float(load_phase("Li2S").density) == pytest.approx(PUBLISHED["Li2S"]["density"], abs=5e-4)
    assert index["Li2S"]["density_g_cm3_literature"] == PUBLISHED["Li2S"]["density"]
    # beta-Li3PS4 against its published cell volume 645.23(5) A^3
    assert load_phase("Li3PS4").volume == pytest.approx(PUBLISHED["Li3PS4"]["volume"], abs=0.05)


def test_li3ps4_has_the_published_sites_and_a_sound_ps4_tetrahedron(index):
    structure = load_phase("Li3PS4")
    b_by_element = {sp.symbol: b for site, b in zip(structure, structure.site_properties["b_iso"]) for sp in site.species}
    assert b_by_element == PUBLISHED["Li3PS4"]["b_iso"]  # decimals gemmi parsed against the same literals: exact
    occupancies = sorted({round(site.species.num_atoms, 2) for site in structure})
    assert occupancies == [0.3, 0.7, 1.0]
    # counts summed by pymatgen from occupancies 0.3 and 0.7: abs 1e-9 allows the float sum only
    assert structure.composition["Li"] == pytest.approx(12, abs=1e-9) and structure.composition["S"] == pytest.approx(16, abs=1e-9)
    phosphorus = next(site for site in structure if site.species_string == "P")
    sulfur = sorted(n.nn_distance for n in structure.get_neighbors(phosphorus, 2.5) if n.species_string == "S")
    assert len(sulfur) == 4 and sulfur[0] > 2.0 and sulfur[-1] < 2.1  # P-S bonds of an isolated PS4 group
    # phases.yaml and the CIF print the same decimals; pymatgen's symmetry operations add last-bit rounding only
    for label, _, x, y, z, occupancy in index["Li3PS4"]["sites"]:
        orbit = [site for site in structure if site.label == label]
        assert any(np.allclose(np.mod(site.frac_coords - [x, y, z] + 0.5, 1) - 0.5, 0, rtol=0, atol=1e-6) for site in orbit), label
        assert all(site.species.num_atoms == pytest.approx(occupancy, abs=1e-9) for site in orbit), label


def _engine_pattern(structure, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDisplacementWarning)
        return XRDModel.from_structure(structure).pattern(wavelength="CuKa1", two_theta_range=(10, 90), **options)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
@pytest.mark.parametrize("options", [{}, {"form_factors": "pymatgen", "anomalous_dispersion": False}],
                         ids=["waasmaier-kirfel+anomalous", "pymatgen-form-factors"])
def test_engine_pattern_matches_pymatgen(name, options):
    """Every line pymatgen's XRDCalculator puts at >= 1 % is within 0.01 deg (the two Cu K-alpha1 values
    differ by 6e-6 A) and its relative intensity within 2 percentage points."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    structure = load_phase(name)
    b_by_element = {}
    if "b_iso" in structure.site_properties:
        b_by_element = {sp.symbol: b for site, b in zip(structure, structure.site_properties["b_iso"]) for sp in site.species}
    reference = XRDCalculator(wavelength="CuKa1", debye_waller_factors=b_by_element or None).get_pattern(
        structure, two_theta_range=(10, 90))
    peaks = _engine_pattern(structure, **options).peaks
    two_theta = peaks["two_theta_deg"].to_numpy()
    intensity = peaks["intensity_rel"].to_numpy()
    strong = reference.y >= 1.0
    assert strong.sum() >= (8 if name != "Li3PS4" else 90)
    for x, y in zip(reference.x[strong], reference.y[strong]):
        j = int(np.argmin(np.abs(two_theta - x)))
        assert abs(two_theta[j] - x) < 0.01, (name, x)
        assert abs(intensity[j] - y) < 2.0, (name, x, intensity[j], y)


def test_halide_lines_sit_where_braggs_law_puts_them():
    wavelength = 1.5405929  # CuKa1 of argyrodb/data/wavelengths.yaml
    for name in ("LiCl", "LiBr", "LiI"):
        peaks = _engine_pattern(load_phase(name)).peaks
        first = peaks.iloc[0]
        assert (first.h, first.k, first.l) == (1, 1, 1)
        d_200 = PUBLISHED[name]["a"] / 2
        row = peaks[(peaks.h == 2) & (peaks.k == 0) & (peaks.l == 0)].iloc[0]
        # Bragg's law in numpy: argyrodb's d comes from pymatgen's lattice, so last bits differ; 1e-6 deg is far
        # inside the ~0.1 deg between K-alpha1 and K-alpha2 or a 1e-4 A change of a (~5e-4 deg)
        assert row.two_theta_deg == pytest.approx(2 * np.degrees(np.arcsin(wavelength / (2 * d_200))), abs=1e-6)
        assert first.intensity_rel == pytest.approx(100.0)  # 111 is the strongest line of all three halides


def test_li2s_is_antifluorite_and_loads_as_a_second_phase():
    """S on 4a, Li on all eight tetrahedral holes 8c: Li-S = a*sqrt(3)/4, each S with 8 Li, each Li with 4 S;
    the refinement loader finds it by name (any case) with the same cell."""
    from argyrodb.pipeline.refine import impurity_structure

    a = PUBLISHED["Li2S"]["a"]
    structure = load_phase("Li2S")
    assert structure.composition["Li"] == pytest.approx(8, abs=1e-9) and structure.composition["S"] == pytest.approx(4, abs=1e-9)
    for site in structure:
        if site.species_string == "Li":  # (2n+1)/4 in every coordinate: 8c (pymatgen's symmetry operations: last bits)
            assert np.allclose(np.mod(site.frac_coords * 4, 2), 1, rtol=0, atol=1e-9)
    sulfur = next(site for site in structure if site.species_string == "S")
    lithium = next(site for site in structure if site.species_string == "Li")
    li_around_s = [n.nn_distance for n in structure.get_neighbors(sulfur, 2.6)]
    s_around_li = [n.nn_distance for n in structure.get_neighbors(lithium, 2.6) if n.species_string == "S"]
    assert len(li_around_s) == 8 and len(s_around_li) == 4
    assert li_around_s == pytest.approx([a * np.sqrt(3) / 4] * 8, abs=1e-9)  # pymatgen's distances: last bits, A
    name, loaded = impurity_structure("li2s")
    assert name == "Li2S" and loaded.composition.reduced_formula == "Li2S" and len(loaded) == 12
    assert loaded.lattice.a == pytest.approx(a, abs=1e-6)  # as in test_pymatgen_reads_the_published_structure


def test_li2s_lines_sit_where_braggs_law_puts_them():
    """111 is the strongest line; 200 (h+k+l = 4n+2: S and Li scatter out of phase) is weak but present."""
    wavelength = 1.5405929  # CuKa1 of argyrodb/data/wavelengths.yaml
    peaks = _engine_pattern(load_phase("Li2S")).peaks
    first = peaks.iloc[0]
    assert (first.h, first.k, first.l) == (1, 1, 1)
    assert first.intensity_rel == pytest.approx(100.0)
    row = peaks[(peaks.h == 2) & (peaks.k == 0) & (peaks.l == 0)].iloc[0]
    d_200 = PUBLISHED["Li2S"]["a"] / 2
    assert row.two_theta_deg == pytest.approx(2 * np.degrees(np.arcsin(wavelength / (2 * d_200))), abs=1e-6)
    assert 5 < row.intensity_rel < 50


def test_halides_without_b_say_so():
    with pytest.warns(NoDisplacementWarning):
        model = XRDModel.from_structure(load_phase("LiCl"))
    assert "B = 0" in model.notes["debye_waller"]
