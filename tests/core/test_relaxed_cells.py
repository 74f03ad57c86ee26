"""Structures from relaxed cells and other programs (issue 21, item 6): tests/data/foreign_cells.

* a relaxed ordered 2x2x2 Li6PS5Cl written by pymatgen (every atom off F-43m by < 0.001 A; spglib: R3m at 1e-3 A,
  F-43m at 1.5e-3 A) reads as F-43m, with the tolerance that found it and the largest displacement in the problems;
  a cell off F-43m beyond 0.01 A stays refused, naming what each tolerance found;
* pymatgen's P1 supercells count the whole cell in _chemical_formula_sum (Li192P32S160Br32, Z = 32): no warning;
  a tag with other element ratios still warns;
* a CIF in Multiwfn's layout (every Li labelled "Li") reads, with a note that the labels were numbered.
"""

from __future__ import annotations

import importlib.util
import re
import warnings

import numpy as np
import pytest

from argyrodb.api import analyse
from argyrodb.core.cif_writer import cif_text
from argyrodb.core.errors import InputError
from argyrodb.core.readers import number_repeated_labels
from argyrodb.core.setting import symmetrisation_displacements
from argyrodb.core.symmetry import SPGLIB_SYMPREC_STEPS, spglib_module
from argyrodb_testing import DATA

CELLS = DATA / "foreign_cells"
RELAXED = CELLS / "li6ps5cl_relaxed_2x2x2.cif"
SUPERCELL = CELLS / "li6ps5br_p1_2x2x2.cif"
MULTIWFN = CELLS / "li6ps5cl_multiwfn.cif"


def _generator():
    """tests/data/foreign_cells/make_files.py as a module."""
    spec = importlib.util.spec_from_file_location("foreign_cells_make_files", CELLS / "make_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pymatgen(path):
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_file(path)


def _spglib_number(structure, symprec: float) -> int:
    spglib = spglib_module()
    cell = (structure.lattice.matrix, structure.frac_coords, [site.specie.Z for site in structure])
    return int(spglib.get_symmetry_dataset(cell, symprec=symprec).number)


def _kinds(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for problem in report.problems:
        out.setdefault(problem.kind, []).append(problem)
    return out


def _exact_bromide_supercell():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generator = _generator()
        return generator.ordered_cell("Br", generator.A_BR) * (2, 2, 2)


# --------------------------------------------------------------------------- relaxed cells: adaptive tolerance


def test_the_relaxed_file_is_what_the_issue_measured():
    """The data, checked with spglib alone: R3m (160) at the strict 1e-3 A, F-43m from 1.5e-3 A, at pymatgen's 0.01."""
    structure = _pymatgen(RELAXED)
    assert len(structure) == 416
    assert _spglib_number(structure, 1e-3) == 160
    assert _spglib_number(structure, 1.5e-3) == _spglib_number(structure, 1e-2) == 216


@pytest.mark.parametrize("how", ["file", "pymatgen Structure"])
def test_a_relaxed_cell_reads_as_f43m_with_the_tolerance_reported(how):
    report = analyse(RELAXED if how == "file" else _pymatgen(RELAXED))
    assert report.space_group_number == 216 and report.z == 4
    # an ordered cell of whole atoms: float sums only
    assert report.formula_per_fu == pytest.approx({"Li": 6, "P": 1, "S": 5, "Cl": 1}, abs=1e-9)
    # the cell 2 x 19.69976 A printed to 8 decimals, halved: 1e-8 A
    assert report.a_angstrom == pytest.approx(9.84988, abs=1e-8)
    note = _kinds(report)["symmetry_tolerance"][0]
    assert note.severity == "info"
    assert note.data["symprec_angstrom"] == 1.5e-3  # a literal of SPGLIB_SYMPREC_STEPS, passed through: exact
    assert "0.0015 A" in note.message and "R3m (160) at 0.001 A" in note.message
    # every atom was moved by at most 0.00085 A from the ideal cell (make_files.py); the symmetrised position may sit
    # up to as far again from the ideal one, so the largest displacement lies in (0, 0.0017] A. Measured: 0.00087 A
    assert 0.0005 < note.data["max_displacement_angstrom"] <= 0.0017
    assert f"{note.data['max_displacement_angstrom']:.5f} A" in note.message
    assert not report.errors and "formula_tag_mismatch" not in _kinds(report)


def test_the_symmetrised_structure_is_f43m_at_the_strict_tolerance():
    """What is read is symmetrised: the analysis's own spglib check (strict 1e-3 A) finds F-43m, and a CIF written
    from it reads back without any tolerance note."""
    report = analyse(RELAXED)
    assert "space_group" not in _kinds(report)
    structure = report.pymatgen
    assert _spglib_number(structure, 1e-5) == 216


def test_write_and_read_back_has_no_tolerance_note(tmp_path):
    out = tmp_path / "symmetrised.cif"
    out.write_text(cif_text(analyse(RELAXED)))
    again = analyse(out)
    assert "symmetry_tolerance" not in _kinds(again) and again.space_group_number == 216


def _displaced(index_of, shift_angstrom):
    """The exact Li6PS5Br 2x2x2 supercell with one atom (the first of ``index_of``'s element) moved."""
    structure = _exact_bromide_supercell()
    index = next(i for i, site in enumerate(structure) if site.specie.symbol == index_of)
    structure.translate_sites([index], shift_angstrom, frac_coords=False, to_unit_cell=True)
    return structure


def test_the_largest_displacement_is_the_one_atom_moved():
    """One P (on 4b: site symmetry -43m, no direction is invariant) moved 0.002 A along x in the 416-site supercell.
    The nearest symmetric arrangement is the exact cell moved as a whole by 0.002/416 A along x, so the P is
    0.002 * 415/416 A from its symmetrised position. The 2-fold axis through the site sends the shift to its opposite,
    0.004 A away: F-43m is found at 0.005 A, the first step above that."""
    report = analyse(_displaced("P", [0.002, 0.0, 0.0]))
    note = _kinds(report)["symmetry_tolerance"][0]
    assert note.data["symprec_angstrom"] == 5e-3
    # a least-squares projection against its closed form: rounding only (1e-16 A seen); rel 1e-9
    assert note.data["max_displacement_angstrom"] == pytest.approx(0.002 * 415 / 416, rel=1e-9)
    assert report.formula_per_fu == pytest.approx({"Li": 6, "P": 1, "S": 5, "Br": 1}, abs=1e-9)


def test_a_move_along_a_free_direction_is_shared_by_the_orbit():
    """One S on 16e (site symmetry .3m: [111] is free) moved d = 0.004 A along [111] in the 416-site supercell. The
    nearest symmetric arrangement moves the 128 S of that orbit by d/128 along their own [111]-type axes (the free x)
    and everything by d/416 along [111] (the whole cell): the moved S is d (1 - 1/128 - 1/416) from its symmetrised
    position, the S on the same axis type d (1/128 + 1/416), the 288 atoms outside the orbit d/416."""
    structure = _exact_bromide_supercell()
    lattice = structure.lattice.matrix
    frac = structure.frac_coords % 1.0
    # the 16e sites with x = y = z in the conventional cell: (0.38, 0.38, 0.38) halved in the supercell
    index = int(np.argmin(np.linalg.norm(frac - 0.19, axis=1)))
    assert structure[index].specie.symbol == "S"
    moved = frac.copy()
    moved[index] += np.full(3, 0.004 / np.sqrt(3)) @ np.linalg.inv(lattice)
    spglib = spglib_module()
    types = [site.specie.Z for site in structure]
    dataset = spglib.get_symmetry_dataset((lattice, moved, types), symprec=5e-3)
    assert dataset.number == 216
    distances = symmetrisation_displacements(lattice, moved, dataset.rotations, dataset.translations)
    # a least-squares projection over 768 operations against its closed form: rounding only (3e-16 A seen); rel 1e-9
    d = 0.004
    assert distances[index] == pytest.approx(d * (1 - 1 / 128 - 1 / 416), rel=1e-9)
    others = np.delete(distances, index)
    assert others.max() == pytest.approx(d * (1 / 128 + 1 / 416), rel=1e-9)
    assert np.count_nonzero(np.isclose(others, d / 416, rtol=1e-9, atol=0)) == 288


def test_an_exact_cell_has_no_displacement():
    structure = _exact_bromide_supercell()
    spglib = spglib_module()
    cell = (structure.lattice.matrix, structure.frac_coords, [site.specie.Z for site in structure])
    dataset = spglib.get_symmetry_dataset(cell, symprec=1e-3)
    # exact positions (k/8 and 0.38/2 + k/2 in binary floating point): rounding only
    assert symmetrisation_displacements(cell[0], cell[1], dataset.rotations, dataset.translations).max() < 1e-12
    assert "symmetry_tolerance" not in _kinds(analyse(structure))


def test_beyond_the_widest_tolerance_it_is_refused_naming_each_result(tmp_path):
    """One P moved 0.02 A: not F-43m at any tolerance up to 0.01 A - refused, one line, every tolerance named."""
    from pymatgen.io.cif import CifWriter

    path = tmp_path / "too_far.cif"
    CifWriter(_displaced("P", [0.02, 0.0, 0.0])).write_file(path)
    with pytest.raises(InputError) as caught:
        analyse(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert re.search(r"not an argyrodite: space group \S+ \(\d+\), not F-43m \(216\), at any spglib tolerance from 0\.001 to "
                     r"0\.01 A \(", message), message
    tried = message.split("at any spglib tolerance from 0.001 to 0.01 A (", 1)[1]
    for tolerance in SPGLIB_SYMPREC_STEPS:  # each tolerance named with what it found
        assert re.search(rf"\bat ([0-9.]+, )*{re.escape(f'{tolerance:g}')}[,; ]", tried), (tolerance, message)
    assert "F-43m" not in tried


# --------------------------------------------------------------------------- P1 supercells: the formula tag


def test_a_pymatgen_supercell_tag_counts_the_whole_cell_without_a_warning():
    text = SUPERCELL.read_text()
    assert "_chemical_formula_sum   'Li192 P32 S160 Br32'" in text and "_cell_formula_units_Z   32" in text
    report = analyse(SUPERCELL)
    kinds = _kinds(report)
    assert "formula_tag_mismatch" not in kinds and not report.errors
    note = kinds["formula_tag_per_cell"][0]
    assert note.severity == "info" and "32 formula units, 8 conventional cells" in note.message
    assert report.nominal_formula == "Li6PS5Br" and report.z == 4
    assert report.formula_per_fu == pytest.approx({"Li": 6, "P": 1, "S": 5, "Br": 1}, abs=1e-9)  # whole atoms


@pytest.mark.parametrize("multiple", [(2, 1, 1), (1, 2, 3)])
def test_other_pymatgen_supercells_get_no_tag_warning(multiple, tmp_path):
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generator = _generator()
        structure = generator.ordered_cell("Cl", generator.A_CL) * multiple
    path = tmp_path / "supercell.cif"
    CifWriter(structure).write_file(path)
    report = analyse(path)
    assert "formula_tag_mismatch" not in _kinds(report) and report.z == 4


@pytest.mark.parametrize("tag, z, expected", [
    ("'Li6 P S5 Br'", "32", None),  # per formula unit, Z of the supercell: the CIF convention
    ("'Li6 P S5 Br'", None, None),  # per formula unit, no Z
    ("'Li12 P2 S10 Br2'", None, None),  # two formula units
    ("'Li3 P0.5 S2.5 Br0.5'", None, None),  # half a formula unit
    ("'Li160 P32 S160 Br32'", "32", "the element ratios differ"),  # Li5 per P
    ("'Li192 P32 S160 Cl32'", "32", "the element ratios differ"),  # another halide
    ("'Li15 P2.5 S12.5 Br2.5'", None, "it counts 2.5 formula units, not a whole number"),
])
def test_the_tag_is_checked_by_its_ratios_and_count(tag, z, expected, tmp_path):
    text = SUPERCELL.read_text().replace("'Li192 P32 S160 Br32'", tag)
    text = text.replace("_cell_formula_units_Z   32\n", "" if z is None else f"_cell_formula_units_Z   {z}\n")
    path = tmp_path / "tagged.cif"
    path.write_text(text)
    mismatch = _kinds(analyse(path)).get("formula_tag_mismatch", [])
    if expected is None:
        assert not mismatch
    else:
        assert len(mismatch) == 1 and mismatch[0].severity == "warning" and expected in mismatch[0].message


# --------------------------------------------------------------------------- repeated labels (Multiwfn)


def test_a_multiwfn_cif_with_repeated_labels_reads_with_a_note():
    text = MULTIWFN.read_text()
    assert text.startswith("#Generated by Multiwfn\ndata_system\n")
    labels = [line.split()[0] for line in text.splitlines()[16:]]
    assert len(labels) == 52 and set(labels) == {"Li", "P", "S", "Cl"}  # the bare element symbols, 52 rows
    report = analyse(MULTIWFN)
    assert report.z == 4 and report.space_group_number == 216
    assert report.formula_per_fu == pytest.approx({"Li": 6, "P": 1, "S": 5, "Cl": 1}, abs=1e-9)  # whole atoms
    note = _kinds(report)["labels_numbered"][0]
    assert note.severity == "info"
    assert "Li x24 -> Li1..Li24" in note.message and "S x20 -> S1..S20" in note.message
    assert {label for site in report.sites for label in site.labels} <= {f"{el}{n}" for el in ("Li", "P", "S", "Cl")
                                                                        for n in range(1, 25)}


def test_pymatgen_reads_the_multiwfn_file_alike():
    """pymatgen reads the same cell. (ASE 3.29 cannot: its CIF reader asks a space-group number or symbol of a file
    with a symmetry-operation loop, and Multiwfn writes the loop (x,y,z) without either.)"""
    theirs = _pymatgen(MULTIWFN).composition.get_el_amt_dict()
    ours = analyse(MULTIWFN)
    # whole atoms counted site by site (pymatgen) or per orbit (argyrodb): float sums only
    assert {el: n * 4 for el, n in ours.formula_per_fu.items()} == pytest.approx(theirs, abs=1e-9)


def test_numbering_skips_names_in_use_and_keeps_unique_labels():
    assert number_repeated_labels(["Li", "Li", "Li1", "S"]) == (["Li2", "Li3", "Li1", "S"], {"Li": 2})
    assert number_repeated_labels(["S1", "S1", "P"]) == (["S1_1", "S1_2", "P"], {"S1": 2})
    assert number_repeated_labels(["Li1", "Li2"]) == (["Li1", "Li2"], {})


def test_an_aniso_row_of_a_repeated_label_is_not_guessed(tmp_path):
    text = MULTIWFN.read_text() + "loop_\n_atom_site_aniso_label\n_atom_site_aniso_U_11\n_atom_site_aniso_U_22\n" \
                                  "_atom_site_aniso_U_33\nLi 0.03 0.03 0.03\n"
    path = tmp_path / "aniso.cif"
    path.write_text(text)
    report = analyse(path)
    assert "anisotropic displacement rows of Li were not used" in _kinds(report)["labels_numbered"][0].message
    assert all(row.b_iso_angstrom2 is None for row in report.refinement.sites)


def test_a_refinement_file_with_repeated_labels_is_still_refused(tmp_path):
    """Refinement files name sites in their constraints: a repeated label there is an error, not a guess."""
    from argyrodb_testing import structure

    source = structure("Li6PS5Cl").read_text()
    path = tmp_path / "repeated.yaml"
    path.write_text(source.replace("[S2, S, 4a", "[S1, S, 4a"))
    with pytest.raises(InputError, match="duplicate site label 'S1'"):
        analyse(path)


# --------------------------------------------------------------------------- the data


def test_the_stored_files_are_what_the_generator_makes():
    """tests/data/foreign_cells is reproducible: the generator (seeded numpy, pymatgen's CifWriter) makes the same
    files. Compared as numbers: a pymatgen that changes CifWriter's layout alone still passes."""
    import gemmi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = _generator().files()
    assert set(made) == {RELAXED.name, SUPERCELL.name, MULTIWFN.name}
    for name, text in made.items():
        ours = gemmi.read_small_structure(str(CELLS / name))
        again = gemmi.make_small_structure_from_block(gemmi.cif.read_string(text).sole_block())
        assert [s.element.name for s in again.sites] == [s.element.name for s in ours.sites], name
        # both printed to 8 (CifWriter) or 8 (Multiwfn's f16.8) decimals from the same seeded numbers: a changed
        # last digit is 1e-8; atol 2e-8 (rtol 0) fails on any change of the draw (~1e-5 and more)
        np.testing.assert_allclose([s.fract.tolist() for s in again.sites], [s.fract.tolist() for s in ours.sites],
                                   rtol=0, atol=2e-8, err_msg=name)
        assert again.cell.a == pytest.approx(ours.cell.a, rel=0, abs=1e-6)  # 6 (Multiwfn) or 8 decimals
