"""Readers: the Table S2 transcription as printed, CIF dialects, and the same model from both."""

from __future__ import annotations

import math
import time

import pytest

from argyrodb.core.errors import InputError
from argyrodb.core.readers import (
    B_PER_U,
    MAX_FILE_BYTES,
    read_cif_text,
    read_file,
    read_refinement_text,
)
from argyrodb_testing import LMA, MINIMAL_CIF

HEAVY = ("pymatgen", "numpy", "pandas", "scipy", "matplotlib", "gemmi", "spglib", "ase", "xraydb", "impedance")

# Table S2 of the source, row for row: element, printed site, x, y, z, occupancy, B_eq (A^2).
TABLE_S2 = [
    ("Li", "48h", 0.3142, 0.6858, 0.0148, 0.5252, 2.6070),
    ("Li", "16e", 0.1370, 0.1370, 0.1370, 0.0090, 2.6070),
    ("Li", "24g", 0.0250, 0.2500, 0.7500, 0.0090, 2.6070),
    ("Li", "48h", 0.4859, -0.0141, 0.1945, 0.0122, 2.6070),
    ("P", "4b", 0.0000, 0.0000, 0.5000, 1.0000, 0.8734),
    ("S", "16e", 0.1200, -0.1200, 0.6200, 1.0000, 1.8410),
    ("S", "4a", 0.0000, 0.0000, 0.0000, 0.3744, 2.1020),
    ("Cl", "4a", 0.0000, 0.0000, 0.0000, 0.1992, 2.1020),
    ("I", "4a", 0.0000, 0.0000, 0.0000, 0.4268, 2.1020),
    ("S", "4c", 0.2500, 0.2500, 0.7500, 0.1082, 3.4000),
    ("Cl", "4c", 0.2500, 0.2500, 0.7500, 0.2517, 3.4000),
    ("I", "4c", 0.2500, 0.2500, 0.7500, 0.4723, 3.4000),
]


def test_table_s2_transcribed_exactly():
    refinement = read_file(LMA)
    assert refinement.a_angstrom is None
    assert refinement.nominal_formula == "Li5.6PS4.6Cl0.8I0.6"
    assert refinement.provenance["table"] == "Table S2"
    assert len(refinement.sites) == len(TABLE_S2)
    for row_number, (site, expected) in enumerate(zip(refinement.sites, TABLE_S2), start=1):
        assert (site.element, site.wyckoff_reported, *site.xyz, site.occupancy, site.b_iso_angstrom2) == expected
        assert site.source_row == row_number
    # printed precision is kept: B "2.6070" keeps its trailing zero
    assert refinement.sites[0].printed["b_iso"] == "2.6070"
    assert refinement.sites[4].printed["occupancy"] == "1.0000"




def test_cif_with_esd_charges_and_u_iso():
    refinement = read_cif_text(MINIMAL_CIF, source="min.cif")
    assert refinement.a_angstrom == pytest.approx(9.8499)
    assert [s.element for s in refinement.sites] == ["Li", "P", "S", "S", "Cl", "S", "Cl"]
    assert refinement.sites[0].b_iso_angstrom2 == pytest.approx(0.033 * 8 * math.pi**2)
    assert pytest.approx(78.9568, rel=1e-5) == B_PER_U
    assert refinement.nominal_formula == "Li6PS5Cl"  # the formula tag, written in argyrodite order


def test_cif_space_group_must_be_216():
    with pytest.raises(InputError, match="not F-43m"):
        read_cif_text(MINIMAL_CIF.replace("'F -4 3 m'", "'P 1'"), source="p1.cif")


@pytest.mark.parametrize(
    "mutation, message",
    [
        (("_cell_length_c 9.8499(3)", "_cell_length_c 10.2"), "non-cubic cell"),
        (("_cell_angle_beta 90", "_cell_angle_beta 91"), "non-cubic cell"),
        (("Li1 Li1+ 0.3142 0.6858 0.0148 0.5", "Li1 Li1+ 0.3142 0.6858 0.0148 1.3"), "occupancy 1.3 outside"),
        (("Li1 Li1+", "Li1 Xq"), "unknown element 'Xq'"),
        (("_atom_site_fract_z\n", ""), None),  # column removed: the loop no longer parses consistently
    ],
)
def test_cif_bad_input_raises_input_error(mutation, message):
    text = MINIMAL_CIF.replace(*mutation)
    with pytest.raises(InputError) as info:
        read_cif_text(text, source="bad.cif")
    assert str(info.value).startswith("bad.cif: ")
    assert "\n" not in str(info.value)
    if message:
        assert message in str(info.value)


def test_yaml_missing_column_and_malformed():
    text = LMA.read_text().replace("site_columns: [label, element, wyckoff, x, y, z, occupancy, b_iso, source_row]",
                                   "site_columns: [label, element, wyckoff, x, y, z, b_iso, source_row]")
    with pytest.raises(InputError, match="missing site column 'occupancy'"):
        read_refinement_text(text, source="t.yaml")
    with pytest.raises(InputError, match="malformed YAML at line"):
        read_refinement_text("name: [unclosed\nsites: 1", source="t.yaml")
    with pytest.raises(InputError, match="site row 1 has 8 values"):
        read_refinement_text(LMA.read_text().replace("0.0148, 0.5252, 2.6070, 1]", "0.0148, 0.5252, 2.6070]"), "t.yaml")


def test_yaml_non_finite_and_occupancy():
    text = LMA.read_text().replace("0.5252, 2.6070, 1]", ".nan, 2.6070, 1]")
    with pytest.raises(InputError, match="not finite"):
        read_refinement_text(text, source="t.yaml")
    text = LMA.read_text().replace("0.5252, 2.6070, 1]", "1.3, 2.6070, 1]")
    with pytest.raises(InputError, match=r"site Li1: occupancy 1\.3 outside"):
        read_refinement_text(text, source="t.yaml")


def test_written_cif_reads_back_into_the_same_model(all_structures, tmp_path):
    from argyrodb.core.cif_writer import cif_text

    for name, report in all_structures.items():
        refinement = report.refinement
        path = tmp_path / f"{name}.cif"
        path.write_text(cif_text(report))
        again = read_file(path)
        # the CIF writes a and x, y, z to 5 decimals, B to 4: twice the rounding
        assert again.a_angstrom == pytest.approx(report.a_angstrom, abs=1e-5)
        assert [s.label for s in again.sites] == [s.label for s in refinement.sites]
        for a, b in zip(again.sites, refinement.sites):
            assert a.element == b.element
            assert a.xyz == pytest.approx(b.xyz, abs=1e-5)
            assert a.b_iso_angstrom2 == pytest.approx(b.b_iso_angstrom2, abs=1e-4)


def test_oversized_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * (MAX_FILE_BYTES + 10))
    start = time.perf_counter()
    with pytest.raises(InputError, match="over the 5000000-byte limit"):
        read_file(path)
    assert time.perf_counter() - start < 1.0


def test_absurd_site_count_and_non_finite_numbers():
    rows = "\n".join(f"  - [L{i}, Li, 48h, 0.31, 0.69, 0.01, 0.001, 2.0]" for i in range(600))
    text = f"name: many\nnominal_formula: Li6PS5Cl\nsite_columns: [label, element, wyckoff, x, y, z, occupancy, b_iso]\nsites:\n{rows}\n"
    with pytest.raises(InputError, match="600 sites, over the limit of 500"):
        read_refinement_text(text, source="many.yaml")
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(InputError, match="not finite"):
            read_cif_text(MINIMAL_CIF.replace("Li1 Li1+ 0.3142", f"Li1 Li1+ {bad}"), source="nf.cif")
    with pytest.raises(InputError, match="not physical"):
        read_refinement_text(LMA.read_text().replace("0.5252, 2.6070, 1]", "0.5252, 1e300, 1]"), source="b.yaml")
    with pytest.raises(InputError, match="nested too deeply"):
        read_refinement_text("name: " + "[" * 50000 + "]" * 50000, source="deep.yaml")


def test_cif_listing_the_whole_cell_is_read_as_its_asymmetric_unit():
    from argyrodb.core.readers import read_cif_text

    copies = MINIMAL_CIF.replace("P1 P5+ 0 0 0.5 1 0.011", "P1 P5+ 0 0 0.5 1 0.011\nP2 P5+ 0.5 0.5 0.5 1 0.011\nP3 P5+ 0 0.5 0 1 0.011")
    refinement = read_cif_text(copies, source="full.cif")
    assert [s.label for s in refinement.sites if s.element == "P"] == ["P1"]
    assert refinement.provenance["symmetry_equivalent_rows_dropped"] == "P2, P3"


def test_pymatgen_structure_round_trip(all_structures):
    """An analysed structure -> pymatgen Structure (whole cell) -> read back: the same sites, composition, B."""
    from argyrodb.api import analyse
    from argyrodb.core.readers import read

    for name, structure in all_structures.items():
        again = analyse(read(structure.pymatgen, name=name))
        # through pymatgen's Structure and back: rounding only (B averaged over an orbit: 4e-16 A^2 seen);
        # abs 1e-6 A for a, 1e-9 for amounts and B, far below any printed digit
        assert again.a_angstrom == pytest.approx(structure.a_angstrom, abs=1e-6)
        assert again.z == structure.z == 4
        assert again.formula_per_fu == pytest.approx(structure.formula_per_fu, abs=1e-9)
        assert sorted(p.wyckoff.symbol for p in again.positions) == sorted(p.wyckoff.symbol for p in structure.positions)
        assert {p.wyckoff.symbol: p.b_iso() for p in again.positions} == pytest.approx(
            {p.wyckoff.symbol: p.b_iso() for p in structure.positions if p.b_iso() is not None}, abs=1e-9), name
        assert again.space_group_number == 216


def test_in_memory_structures_in_another_origin_come_back_to_the_setting(lma):
    import numpy as np
    from pymatgen.core import Structure

    from argyrodb.api import analyse

    s = lma.pymatgen
    shifted = Structure(s.lattice, s.species_and_occu, s.frac_coords + np.array([0.25, 0.25, 0.25]),
                        site_properties=s.site_properties)
    again = analyse(shifted)
    assert again.refinement.provenance["setting_transformation"]
    assert any(p.kind == "setting_transformed" for p in again.problems)
    assert {p.wyckoff.symbol for p in again.positions} == {p.wyckoff.symbol for p in lma.positions}
    assert again.formula_per_fu == pytest.approx(lma.formula_per_fu, abs=1e-9)


def test_ase_atoms_ordered_and_with_unassignable_occupancies(tmp_path, all_structures):
    import warnings

    from ase.io import read as ase_read
    from pymatgen.io.ase import AseAtomsAdaptor

    from argyrodb.api import analyse
    from argyrodb.core.readers import read

    # an ordered, fully occupied F-43m cell - Li6PS5Cl with its 24 Li all on 24g - reads as itself
    from argyrodb_testing import ordered_li6ps5cl

    cell = ordered_li6ps5cl()
    atoms = AseAtomsAdaptor.get_atoms(cell)
    analysed = analyse(read(atoms, name="ordered"))
    assert analysed.formula_per_fu == pytest.approx({"Li": 6, "P": 1, "S": 5, "Cl": 1}, abs=1e-9)  # whole atoms
    assert analysed.z == 4 and not analysed.errors
    # ASE's own CIF reader keeps occupancies per site kind without tagging the atoms: refused, not guessed
    path = tmp_path / "cl.cif"
    all_structures["Li6PS5Cl"].cif(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        disordered = ase_read(path)
    with pytest.raises(InputError, match="occupancies cannot be assigned"):
        read(disordered)


def test_non_finite_numbers_from_python_objects_are_refused(lma):
    s = lma.pymatgen.copy()
    b = list(s.site_properties["b_iso"])
    b[0] = float("nan")
    s.add_site_property("b_iso", b)
    from argyrodb.core.readers import read

    with pytest.raises(InputError, match="B_iso is not finite"):
        read(s)


def test_numpy_scalars_are_numbers():
    import numpy as np

    from argyrodb.api import analyse
    from argyrodb_testing import structure

    assert analyse(structure("Li6PS5Cl"), a_angstrom=np.float32(9.9)).a_angstrom == pytest.approx(9.9, abs=1e-6)
