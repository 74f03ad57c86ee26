"""Ordered approximants: what goes to DFT is physically possible (no Li pair closer than 2 A, no Li on top of
an anion), charge-neutral, the requested composition where the supercell allows it (else the nearest, with
the deviation reported), recorded in every file, reproducible; bad arguments are one-line errors.

Distances are measured here independently of the library: pymatgen's distance matrix of the files as
read back."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from argyrodb.core.errors import InputError, ParameterError
from argyrodb.screening.approximants import (
    CompositionWarning,
    exact_supercell,
    generate,
    write,
)
from argyrodb.screening.screener import Screener, ScreenSettings
from argyrodb_testing import LMA, run

CHARGE = {"Li": 1, "P": 5, "S": -2, "Cl": -1, "I": -1, "Ge": 4}
ANIONS = ("S", "Cl", "I")
LMA_FORMULA = "Li5.6PS4.6Cl0.8I0.6"
#: (formula, supercell) -> the composition per formula unit the files must hold. Li6PS5Cl fits every cell;
#: Li5.6PS4.6Cl0.8I0.6 needs 5x5x5: in 1x1x1 (4 f.u.) 23 Li, 19 S, 3 Cl, 2 I; in 2x2x2 (32 f.u.) 179 Li,
#: 147 S, 26 Cl, 19 I - the roundings of the 4a/4d counts with the least squared relative deviation.
EXPECTED = {
    ("Li6PS5Cl", 1): {"Li": 6.0, "P": 1.0, "S": 5.0, "Cl": 1.0},
    ("Li6PS5Cl", 2): {"Li": 6.0, "P": 1.0, "S": 5.0, "Cl": 1.0},
    (LMA_FORMULA, 1): {"Li": 5.75, "P": 1.0, "S": 4.75, "Cl": 0.75, "I": 0.5},
    (LMA_FORMULA, 2): {"Li": 179 / 32, "P": 1.0, "S": 147 / 32, "Cl": 26 / 32, "I": 19 / 32},
}
REQUESTED = {"Li6PS5Cl": {"Li": 6.0, "P": 1.0, "S": 5.0, "Cl": 1.0},
             LMA_FORMULA: {"Li": 5.6, "P": 1.0, "S": 4.6, "Cl": 0.8, "I": 0.6}}


def _cli(formula, supercell, out, seed=5):
    return run("approximants", formula, "-n", "3", "--candidates", "12", "--supercell", str(supercell), "--seed", str(seed),
               "--out", str(out), "--format", "poscar,extxyz,cif")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """(formula, supercell) -> (folder, CLI result, folder of a second run with the same seed)."""
    out = {}
    for formula, supercell in EXPECTED:
        base = tmp_path_factory.mktemp(f"{formula}-{supercell}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CompositionWarning)  # asserted in its own test
            first, second = _cli(formula, supercell, base / "a"), _cli(formula, supercell, base / "b")
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        out[formula, supercell] = (base / "a", first, base / "b")
    return out


def _structures(folder):
    """Every written file read back as a pymatgen Structure: (path, structure, ASE atoms or None)."""
    from ase.io import read
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".extxyz":
            atoms = read(path)
            found.append((path, AseAtomsAdaptor.get_structure(atoms), atoms))
        else:
            found.append((path, Structure.from_file(path), None))
    return found


def _measured(structure):
    """(min Li-Li, min Li-anion) in A from pymatgen's distance matrix (periodic images included)."""
    d = structure.distance_matrix
    symbols = np.array([site.specie.symbol for site in structure])
    li, anion = symbols == "Li", np.isin(symbols, ANIONS)
    li_li = d[np.ix_(li, li)] + np.eye(li.sum()) * 1e9
    return float(li_li.min()), float(d[np.ix_(li, anion)].min())


@pytest.mark.parametrize("case", list(EXPECTED), ids=[f"{f}-{n}x{n}x{n}" for f, n in EXPECTED])
def test_written_structures_are_physical_neutral_and_the_promised_composition(written, case):
    folder, _, _ = written[case]
    formula, supercell = case
    files = _structures(folder)
    assert len(files) == 9  # 3 structures x 3 formats
    for path, structure, atoms in files:
        assert structure.is_ordered
        li_li, li_anion = _measured(structure)
        assert li_li >= 2.0, f"{path.name}: Li-Li {li_li:.3f} A"
        assert li_anion >= 2.0, f"{path.name}: Li-anion {li_anion:.3f} A"
        counts = structure.composition.get_el_amt_dict()
        assert sum(n * CHARGE[el] for el, n in counts.items()) == 0, path.name
        assert counts["P"] == 4 * supercell**3
        per_fu = {el: n / counts["P"] for el, n in counts.items()}  # whole atoms (exact counts above)
        assert per_fu == pytest.approx(EXPECTED[case], abs=1e-9), path.name
        if atoms is not None:  # the file records what was measured, rounded to 4 decimals (<= 5e-5 A), against
            # pymatgen's distances from the positions ASE wrote (8 decimals): abs 1e-4 A
            assert atoms.info["argyrodb_min_li_li_angstrom"] == pytest.approx(li_li, abs=1e-4)
            assert atoms.info["argyrodb_min_li_anion_angstrom"] == pytest.approx(li_anion, abs=1e-4)
            assert atoms.info["argyrodb_supercell"] == f"{supercell}x{supercell}x{supercell}"
            assert atoms.info["argyrodb_requested_formula"] == formula


def test_the_same_seed_writes_the_same_files(written):
    for folder, _, again in written.values():
        names = sorted(p.name for p in folder.iterdir())
        assert names == sorted(p.name for p in again.iterdir())
        assert all((folder / name).read_bytes() == (again / name).read_bytes() for name in names)


def test_files_record_composition_supercell_distances_and_ewald_rank(written):
    folder, result, _ = written[LMA_FORMULA, 1]
    poscar = (folder / f"{LMA_FORMULA}-01.POSCAR").read_text().splitlines()[0]
    assert poscar.startswith("argyrodb approximant Li5.75PS4.75Cl0.75I0.5 (requested Li5.6PS4.6Cl0.8I0.6; "
                             "deviation per f.u. Li+0.15 S+0.15 Cl-0.05 I-0.1) supercell 1x1x1 min Li-Li ")
    assert "Ewald rank 1 energy -" in poscar
    cif = (folder / f"{LMA_FORMULA}-02.cif").read_text()
    for tag in ("_argyrodb_formula_per_fu            'Li5.75PS4.75Cl0.75I0.5'", "_argyrodb_supercell                 '1x1x1'",
                "_argyrodb_composition_deviation     'Li+0.15 S+0.15 Cl-0.05 I-0.1'", "_argyrodb_ewald_rank                2",
                "_argyrodb_min_li_li_angstrom", "_argyrodb_min_li_anion_angstrom", "_argyrodb_ewald_energy_eV"):
        assert tag in cif
    assert "#1: Li5.75PS4.75Cl0.75I0.5 (51 atoms)" in result.stdout


@pytest.fixture(scope="module")
def lma_screener():
    return Screener(ScreenSettings("x", formulas=[LMA_FORMULA]))


def test_deviation_is_returned_and_warned_where_the_cell_cannot_be_exact(lma_screener):
    with pytest.warns(CompositionWarning, match=r"built Li5.75PS4.75Cl0.75I0.5, deviation per formula unit "
                                                r"Li\+0.15 S\+0.15 Cl-0.05 I-0.1; no supercell up to 4x4x4 is exact"):
        found = generate(lma_screener, 0, n_structures=1, candidates=2, supercell=1)
    approximant = found[0]
    assert not approximant.exact and approximant.exact_supercell is None
    assert approximant.composition["I"] == 0.5  # I 0.5 instead of 0.6: said, not silent
    assert approximant.composition_deviation == pytest.approx({"Li": 0.15, "P": 0.0, "S": 0.15, "Cl": -0.05, "I": -0.1})
    with pytest.warns(CompositionWarning, match=r"deviation per formula unit Li-0.00625 S-0.00625 Cl\+0.0125 I-0.00625"):
        generate(lma_screener, 0, n_structures=1, candidates=1, supercell=2)


def test_exact_compositions_have_zero_deviation_and_no_warning():
    screener = Screener(ScreenSettings("x", formulas=["Li6PS5Cl", "Li5.5PS4.5Cl1.5"]))
    for index in (0, 1):
        for supercell in (1, 2):
            with warnings.catch_warnings():
                warnings.simplefilter("error", CompositionWarning)
                approximant = generate(screener, index, n_structures=1, candidates=1, supercell=supercell)[0]
            assert approximant.exact and approximant.exact_supercell == 1
            assert set(approximant.composition_deviation.values()) == {0.0}
            assert "exact in the" in approximant.composition_note()


def test_smallest_exact_supercell():
    assert exact_supercell({"Li": 6, "P": 1, "S": 5, "Cl": 1}) == 1
    assert exact_supercell({"Li": 5.625, "P": 1, "S": 4.625, "Cl": 1.375}) == 2  # 4 n^3 x 0.625 = 20 at n = 2
    assert exact_supercell(REQUESTED[LMA_FORMULA]) is None  # 0.6 x 4 n^3 needs n = 5
    assert exact_supercell(REQUESTED[LMA_FORMULA], largest=5) == 5


def test_ewald_energy_is_pymatgens_and_ranks_ascend(lma_screener):
    from pymatgen.analysis.ewald import EwaldSummation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompositionWarning)
        found = generate(lma_screener, 0, n_structures=3, candidates=12, supercell=1, seed=7)
    assert [a.rank for a in found] == [1, 2, 3]
    assert [a.ewald_energy_eV for a in found] == sorted(a.ewald_energy_eV for a in found)
    for approximant in found:
        structure = approximant.structure.copy()
        structure.add_oxidation_state_by_element(CHARGE)
        # argyrodb's q.Phi.q uses pymatgen's matrix of the unit-charge cell (every usable site, another Ewald eta);
        # both sums converge to pymatgen's accuracy (6e-11 eV of ~960 eV seen); 1e-6 eV is far below the ~1 eV
        # between candidates
        assert EwaldSummation(structure).total_energy == pytest.approx(approximant.ewald_energy_eV, abs=1e-6)


def test_negative_seed_is_a_one_line_error(tmp_path, lma_screener):
    result = run("approximants", "Li6PS5Cl", "-n", "1", "--candidates", "1", "--seed", "-1", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr == "argyrodb: error: --seed: seed must be a non-negative integer, got -1\n"
    assert not (tmp_path / "out").exists()
    with pytest.raises(ParameterError) as info:
        generate(lma_screener, 0, n_structures=1, candidates=1, seed=-1)
    assert info.value.parameter == "seed"


def test_li_rich_cells_fill_every_allowed_site_they_need():
    """Li7GeS5I: 28 Li per cell on 24 48h doublets needs Li on 16e too; the sequential draw alone stops
    short in 2x2x2 (216 of 224), the swap repair completes it."""
    screener = Screener(ScreenSettings("x", formulas=["Li7GeS5I"]))
    approximant = generate(screener, 0, n_structures=1, candidates=2, supercell=2, seed=0)[0]
    assert approximant.composition == {"Li": 7.0, "Ge": 1.0, "S": 5.0, "I": 1.0}
    assert min(_measured(approximant.structure)) >= 2.0


def test_too_much_li_for_the_allowed_sites_is_a_clear_error(tmp_path):
    """A template with only the 48h Li site: 24 doublets per cell hold 24 Li (Li6PS5I, every doublet
    half-filled) and no more (Li7GeS5I needs 28)."""
    template = tmp_path / "li-48h-only.yaml"
    template.write_text("".join(line for line in LMA.read_text().splitlines(keepends=True)
                                if not line.lstrip().startswith(("- [Li2,", "- [Li3,", "- [Li4,"))))
    screener = Screener(ScreenSettings("x", formulas=["Li6PS5I", "Li7GeS5I"], template=str(template)))
    full = generate(screener, 0, n_structures=1, candidates=1)[0]
    assert full.composition["Li"] == 6.0 and _measured(full.structure)[0] >= 2.0
    with pytest.raises(InputError, match=r"Li7GeS5I: 28 Li cannot fit the 1x1x1 supercell: at most 24 Li sites are 2.0 A"):
        generate(screener, 1, n_structures=1, candidates=1)


def test_names_from_data_never_leave_the_output_folder(tmp_path):
    screener = Screener(ScreenSettings("x", formulas=["Li6PS5Cl"]))
    found = generate(screener, 0, n_structures=1, candidates=2)
    out = tmp_path / "a" / "b"
    paths = write(found, out, "../../../escape", ["cif"])
    assert all(p.resolve().parent == out.resolve() for p in paths)
    assert not list(tmp_path.glob("escape*"))
