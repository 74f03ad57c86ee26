"""CIF round trips through three independent readers: pymatgen, gemmi and PyCifRW."""

from __future__ import annotations

import math

import pytest

from argyrodb.api import analyse
from argyrodb_testing import REPO, STRUCTURES

NAMES = sorted(p.stem for p in STRUCTURES.glob("*.yaml"))
CIFS_DIR = REPO / "cifs"
# Tolerances follow what the CIF writes: a to 5 decimals (<= 5e-6 A: abs 1e-5), occupancies to 6 (abs 1e-6),
# B to 4 (abs 1e-4 A^2): twice the rounding of the last written digit, far below any physical difference.


@pytest.fixture(scope="module")
def written(tmp_path_factory, all_structures):
    folder = tmp_path_factory.mktemp("cifs")
    out = {}
    for name, report in all_structures.items():
        path = folder / f"{name}.cif"
        path.write_text(report.cif())
        out[name] = (path, report, report)
    return out


def _expected_rows(report):
    rows = {}
    for pos in report.positions:
        for r in pos.rows:
            rows[r.label] = (r.element, r.occupancy * pos.normalisation, r.b_iso_angstrom2, pos.multiplicity, pos.wyckoff.letter)
    return rows


@pytest.mark.parametrize("name", NAMES)
def test_pymatgen_reads_it_back(written, name):
    from pymatgen.io.cif import CifFile, CifParser
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    path, refinement, report = written[name]
    structure = CifParser(str(path)).parse_structures(primitive=False)[0]
    assert structure.lattice.abc == pytest.approx((report.a_angstrom,) * 3, abs=1e-5)
    ours = report.pymatgen.composition
    for element in ours.elements:  # per cell: up to ~100 written occupancies of <= 5e-7 each
        assert structure.composition[element] == pytest.approx(ours[element], abs=1e-4)
    assert SpacegroupAnalyzer(structure, symprec=1e-3).get_space_group_number() == 216
    block = CifFile.from_file(str(path)).data[next(iter(CifFile.from_file(str(path)).data))]
    expected = _expected_rows(refinement)
    labels = block["_atom_site_label"]
    for label, occ, b in zip(labels, block["_atom_site_occupancy"], block["_atom_site_B_iso_or_equiv"]):
        assert float(occ) == pytest.approx(expected[label][1], abs=1e-6)
        assert float(b) == pytest.approx(expected[label][2], abs=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_gemmi_reads_it_back(written, name):
    import gemmi

    path, refinement, report = written[name]
    small = gemmi.read_small_structure(str(path))
    assert small.cell.a == pytest.approx(report.a_angstrom, abs=1e-5)
    assert small.cell.alpha == 90 and small.cell.gamma == 90
    assert small.spacegroup.number == 216
    expected = _expected_rows(refinement)
    assert [s.label for s in small.sites] == list(expected)
    cell_amounts: dict[str, float] = {}
    for site in small.sites:
        element, occ, b, mult, _ = expected[site.label]
        assert site.element.name == element
        assert site.occ == pytest.approx(occ, abs=1e-6)
        assert site.u_iso * 8 * math.pi**2 == pytest.approx(b, abs=1e-4)  # gemmi keeps U = B / 8 pi^2: rounding only
        cell_amounts[element] = cell_amounts.get(element, 0.0) + occ * mult
    # the multiplicity we wrote is the number of distinct images under gemmi's operations
    for site in small.sites:
        images = []
        for op in small.spacegroup.operations():
            xyz = [v % 1.0 for v in op.apply_to_xyz(site.fract.tolist())]
            if not any(all(min(abs(a - b), 1 - abs(a - b)) < 1e-4 for a, b in zip(xyz, seen)) for seen in images):
                images.append(xyz)
        assert len(images) == expected[site.label][3], site.label
    for element, amount in cell_amounts.items():  # our own numbers, summed another way: abs 1e-5 is generous
        assert amount / report.z == pytest.approx(report.formula_per_fu[element], abs=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_pycifrw_reads_it_back(written, name):
    import CifFile

    path, refinement, report = written[name]
    block = CifFile.ReadCif(str(path)).first_block()
    assert float(block["_cell_length_a"]) == pytest.approx(report.a_angstrom, abs=1e-5)
    assert int(block["_space_group_IT_number"]) == 216
    assert block["_space_group_name_H-M_alt"] == "F -4 3 m"
    assert len(block["_space_group_symop_operation_xyz"]) == 96
    expected = _expected_rows(refinement)
    for label, element, mult, letter, occ, b in zip(
        block["_atom_site_label"], block["_atom_site_type_symbol"], block["_atom_site_symmetry_multiplicity"],
        block["_atom_site_Wyckoff_symbol"], block["_atom_site_occupancy"], block["_atom_site_B_iso_or_equiv"],
    ):
        e_element, e_occ, e_b, e_mult, e_letter = expected[label]
        assert (element, int(mult), letter) == (e_element, e_mult, e_letter)
        assert float(occ) == pytest.approx(e_occ, abs=1e-6)
        assert float(b) == pytest.approx(e_b, abs=1e-4)
    assert "Vegard" in block["_argyrodb_lattice_source"] or name != "LMA-Cl0.8I0.6"
    assert float(block["_exptl_crystal_density_diffrn"]) > 1.5


def test_lma_cif_corrects_the_wyckoff_letter_and_says_so(written):
    path, _, _ = written["LMA-Cl0.8I0.6"]
    text = path.read_text()
    assert "S3     S     4 d" in text
    assert "reported '4c'" in text  # the discrepancy is recorded in the CIF comment
    assert "Table S2" in text


@pytest.mark.parametrize("name", NAMES)
def test_committed_cifs_are_current(name):
    """cifs/ must hold exactly what `make cifs` would write now."""
    structure = analyse(STRUCTURES / f"{name}.yaml")
    expected = structure.cif()
    committed = CIFS_DIR / f"{structure.name}.cif"
    assert committed.exists(), f"{committed} missing: run `make cifs`"
    assert committed.read_text() == expected, f"{committed} is stale: run `make cifs`"
