"""The impedance readers (issue 22, item 1) on the files of tests/data/eis_formats: one synthetic spectrum of a known
circuit written in each instrument's layout and as text tables varied one thing at a time (make_files.py says how).

Every file is checked against the circuit itself at each frequency, to the rounding of the digits that file writes
(make_files.DIGITS: d significant digits are exact to half a unit in the last, a relative 0.5e(1-d) of each number,
so rtol = 1e(1-d) is twice that and a misread column, unit or sign is off by far more). The instrument files are also
read by impedance.py's own readers and, where their header names the columns, by argyrodb's table reader: two codes,
the same arrays.
"""

from __future__ import annotations

import codecs
import importlib.util
import json
import locale
import math

import numpy as np
import pytest

from argyrodb.core.errors import InputError, ParameterError
from argyrodb.physics.eis import read_spectrum
from argyrodb.physics.eis_readers import TABLE_READER, read_table
from argyrodb_testing import DATA, run

FORMATS = DATA / "eis_formats"


def _generator():
    """tests/data/eis_formats/make_files.py as a module: the circuit, its frequencies, the digits of each file."""
    spec = importlib.util.spec_from_file_location("eis_formats_make_files", FORMATS / "make_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _generator()


def _rtol(name: str) -> float:
    return 10.0 ** (1 - MAKE.DIGITS[name])


#: instrument layouts: file -> (impedance.py's readFile instrument, its reader function, Spectrum.instrument)
INSTRUMENT_FILES = {
    "pellet.mpt": ("biologic", "readBioLogic", "BioLogic EC-Lab text export (.mpt)"),
    "pellet.DTA": ("gamry", "readGamry", "Gamry Framework (.DTA)"),
    "pellet.z": ("zplot", "readZPlot", "Scribner ZPlot/ZView (.z)"),
    "pellet_autolab.txt": ("autolab", "readAutolab", "Autolab (ZView-type text export)"),
    "pellet_parstat.txt": ("parstat", "readParstat", "Parstat (text export)"),
    "pellet.par": ("versastudio", "readVersaStudio", "VersaStudio (.par)"),
    "pellet_powersuite.txt": ("powersuite", "readPowerSuite", "PowerSuite (text export)"),
    "pellet_chi.txt": ("chinstruments", "readCHInstruments", "CH Instruments (text export)"),
}
TABLE_FILES = ["pellet.csv", "pellet_decimal_comma.csv", "pellet_kHz_kOhm.csv", "pellet_latin1.txt", "pellet_footer.txt",
               "pellet_headerless.txt", "pellet_neisys.txt"]


def test_the_files_are_what_make_files_writes():
    assert MAKE.main(["--check"]) == 0


@pytest.mark.parametrize("name", list(INSTRUMENT_FILES) + TABLE_FILES)
def test_every_format_reads_the_circuit(name):
    spectrum = read_spectrum(FORMATS / name)
    rtol = _rtol(name)
    assert spectrum.frequency_hz.size == MAKE.FREQUENCIES.size == 71
    expected_f = MAKE.FREQUENCIES[::-1] if name == "pellet_powersuite.txt" else MAKE.FREQUENCIES  # as the file orders them
    np.testing.assert_allclose(spectrum.frequency_hz, expected_f, rtol=rtol, atol=0)
    # |Z_read - Z_circuit| <= rtol |Z_circuit| at every frequency: Z' and Z'' each rounded to the file's digits
    np.testing.assert_allclose(spectrum.z, MAKE.impedance(spectrum.frequency_hz), rtol=rtol, atol=0)
    assert spectrum.source == str(FORMATS / name) and spectrum.name == (FORMATS / name).stem
    if name in INSTRUMENT_FILES:
        _, function, instrument = INSTRUMENT_FILES[name]
        assert spectrum.instrument == instrument and spectrum.reader == f"impedance.preprocessing.{function}"
    else:
        assert spectrum.reader == TABLE_READER


@pytest.mark.parametrize("name", list(INSTRUMENT_FILES))
def test_instrument_files_give_impedance_pys_own_arrays(name):
    """argyrodb calls impedance.py's reader for the file: the same function on the same bytes, so the same arrays
    exactly (nothing reordered, converted or dropped on the way)."""
    from impedance import preprocessing

    f, z = preprocessing.readFile(str(FORMATS / name), instrument=INSTRUMENT_FILES[name][0])
    spectrum = read_spectrum(FORMATS / name)
    np.testing.assert_array_equal(spectrum.frequency_hz, f)
    np.testing.assert_array_equal(spectrum.z, z)


@pytest.mark.parametrize("name", ["pellet.mpt", "pellet_chi.txt", "pellet_powersuite.txt", "pellet_parstat.txt"])
def test_table_reader_agrees_with_impedance_py_on_named_columns(name):
    """The independent cross-check: argyrodb's table reader, which finds the columns by their header names and units
    ("freq/Hz", "-Im(Z)/Ohm", "Z\"/ohm", "Zim (ohms)"...), and impedance.py's reader, which takes them by position,
    parse the same decimal literals with float(), so they agree exactly (impedance.py's readParstat drops the rows of
    frequency 0, the DC hold; the table reader keeps them)."""
    from impedance import preprocessing

    f, z = preprocessing.readFile(str(FORMATS / name), instrument=INSTRUMENT_FILES[name][0])
    table = read_table(FORMATS / name)
    measured = table.frequency_hz > 0
    assert int((~measured).sum()) == (20 if name == "pellet_parstat.txt" else 0)
    np.testing.assert_array_equal(table.frequency_hz[measured], f)
    np.testing.assert_array_equal(table.z[measured], z)


def test_units_are_converted():
    """kHz and kOhm: the same mantissas as pellet.csv with exponents 3 lower, so after conversion the arrays differ
    by the last bit of the multiplication by 1000 at most (rtol 1e-12), and by nothing a unit error would give."""
    hz = read_spectrum(FORMATS / "pellet.csv")
    khz = read_spectrum(FORMATS / "pellet_kHz_kOhm.csv")
    np.testing.assert_allclose(khz.frequency_hz, hz.frequency_hz, rtol=1e-12, atol=0)
    np.testing.assert_allclose(khz.z, hz.z, rtol=1e-12, atol=0)
    assert khz.notes == [] and hz.notes == []


def test_decimal_comma_variant_equals_the_dot_one():
    """';'-separated, decimal commas, UTF-8 with a byte-order mark, Ω, and -Z'' in place of Z'': the same decimal
    literals as pellet.csv (the -Z'' column is the Z'' text with its sign flipped), so the same numbers exactly."""
    dot = read_spectrum(FORMATS / "pellet.csv")
    comma = read_spectrum(FORMATS / "pellet_decimal_comma.csv")
    assert comma.instrument == "text table (semicolon-separated, decimal comma)"
    np.testing.assert_array_equal(comma.frequency_hz, dot.frequency_hz)
    np.testing.assert_array_equal(comma.z, dot.z)
    assert comma.z.imag[0] < 0  # the sign came from the header's "-Z''": a capacitive arc


def test_latin1_file_with_modulus_and_phase_and_geometry():
    spectrum = read_spectrum(FORMATS / "pellet_latin1.txt")
    assert spectrum.notes[0] == "read as latin-1 (not UTF-8)"
    assert spectrum.thickness_cm == pytest.approx(0.1, rel=1e-12)
    assert spectrum.area_cm2 == pytest.approx(math.pi / 4, rel=1e-12)  # from "Diameter (mm): 10.0"
    assert any("line 2: '# Thickness (mm): 1.00'" in note for note in spectrum.notes)


def test_footer_is_skipped_with_a_note():
    spectrum = read_spectrum(FORMATS / "pellet_footer.txt")
    assert spectrum.frequency_hz.size == 71
    assert spectrum.notes == ["the table ends at line 73 ('Measurement finished: 71 points'): the lines from there on "
                              "are not read"]


def test_headerless_three_columns_are_read_with_a_note():
    spectrum = read_spectrum(FORMATS / "pellet_headerless.txt")
    assert spectrum.notes == ["no header: the three columns were read as frequency (Hz), Z' (ohm), Z'' (ohm)"]


@pytest.mark.parametrize("name, message", [
    ("ambiguous_5_columns.txt", "line 1: 5 columns and no header naming them"),
    ("ambiguous_two_frequencies.csv", "line 1: 2 candidate frequency columns, 'frequency/Hz' (column 1) and 'f/kHz' (column 4)"),
    ("ambiguous_unit_furlong.csv", "column 2 \"Z'/furlong\": unknown unit 'furlong'"),
    ("ambiguous_missing_zim.csv", "line 1: no Z'' column beside Z'"),
    ("ambiguous_comma.txt", "a comma could be a decimal mark or a separator"),
])
def test_ambiguous_files_are_refused_naming_the_file(name, message):
    with pytest.raises(InputError) as error:
        read_spectrum(FORMATS / name)
    assert error.value.source == str(FORMATS / name)
    assert message in error.value.problem and "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["pellet_3sweeps.mpr", "pellet_2sweeps.mpt"])
def test_several_sweeps_need_a_choice(name):
    if name.endswith(".mpr"):
        pytest.importorskip("galvani")
    path = FORMATS / name
    n = 3 if name.endswith(".mpr") else 2
    with pytest.raises(InputError, match=rf"{n} sweeps \(cycle number 1 to {n}\); choose one with --sweep K") as error:
        read_spectrum(path)
    assert error.value.source == str(path)
    for sweep, factor in enumerate(MAKE.SWEEP_R1_FACTORS[:n], start=1):
        spectrum = read_spectrum(path, sweep=sweep)
        assert spectrum.frequency_hz.size == 71
        assert spectrum.notes[0] == f"sweep {sweep} of {n} (cycle number {sweep}): 71 of {71 * n} points"
        np.testing.assert_allclose(spectrum.z, MAKE.impedance(spectrum.frequency_hz, MAKE.R1 * factor), rtol=_rtol(name), atol=0)
    with pytest.raises(ParameterError, match=f"has {n} sweeps") as error:
        read_spectrum(path, sweep=n + 1)
    assert error.value.parameter == "sweep"


def test_mpr_columns_by_name():
    """The .mpr rows are float32 (rtol 1e-6 > 2^-24); galvani names the columns, argyrodb takes them by name."""
    pytest.importorskip("galvani")
    spectrum = read_spectrum(FORMATS / "pellet_3sweeps.mpr", sweep=1)
    assert spectrum.instrument == "BioLogic EC-Lab binary (.mpr)" and spectrum.reader == "galvani.BioLogic.MPRfile"
    np.testing.assert_allclose(spectrum.frequency_hz, MAKE.FREQUENCIES, rtol=1e-6, atol=0)


def test_geometry_from_instrument_headers():
    neisys = read_spectrum(FORMATS / "pellet_neisys.txt")
    # "Diameter[mm]: 1.000e+01  Thickness[mm]: 1.000e+00 ... Electrode Thickness[mm]: 4.00e+00": the sample's, not the electrode's
    assert neisys.thickness_cm == pytest.approx(0.1, rel=1e-12)
    assert neisys.area_cm2 == pytest.approx(math.pi / 4, rel=1e-12)
    assert neisys.instrument == "NEISYS (text export)"
    gamry = read_spectrum(FORMATS / "pellet.DTA")  # AREA QUANT 7.85398E-001 &Area (cm^2)
    assert gamry.area_cm2 == pytest.approx(0.785398, rel=1e-12) and gamry.thickness_cm is None
    biologic = read_spectrum(FORMATS / "pellet.mpt")  # Electrode surface area : 0.785 cm² (Latin-1)
    assert biologic.area_cm2 == pytest.approx(0.785, rel=1e-12)
    versastudio = read_spectrum(FORMATS / "pellet.par")  # Working Electrode Area (cm2)=0.7854
    assert versastudio.area_cm2 == pytest.approx(0.7854, rel=1e-12)
    zplot = read_spectrum(FORMATS / "pellet.z")  # "Surface Area: 0.785" has no unit: not used
    assert zplot.area_cm2 is None and "without a length unit: not used" in zplot.notes[0]
    plain = read_spectrum(FORMATS / "pellet.csv")
    assert plain.thickness_cm is None and plain.area_cm2 is None


def _table(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _rows(columns) -> str:
    """Rows of the circuit with each column a function of (f, Z); full precision."""
    return "\n".join(",".join(f"{c(f, z):.17g}" for c in columns) for f, z in zip(MAKE.FREQUENCIES, MAKE.impedance(MAKE.FREQUENCIES)))


def test_header_rules(tmp_path):
    truth = MAKE.impedance(MAKE.FREQUENCIES)
    # |Z| and phase in radians, MHz and MΩ / mΩ: prefixes read as written (M mega, m milli); full precision, so the
    # only differences are the conversions' last bits (rtol 1e-12)
    path = _table(tmp_path, "polar.csv", "f (MHz),|Z| (MΩ),phase (rad)\n" + _rows(
        [lambda f, z: f / 1e6, lambda f, z: abs(z) / 1e6, lambda f, z: np.angle(z)]))
    np.testing.assert_allclose(read_spectrum(path).z, truth, rtol=1e-12, atol=0)
    path = _table(tmp_path, "degrees.csv", "frequency (Hz),|Z| (Ohm),-Phase (deg)\n" + _rows(
        [lambda f, z: f, lambda f, z: abs(z), lambda f, z: -math.degrees(np.angle(z))]))
    np.testing.assert_allclose(read_spectrum(path).z, truth, rtol=1e-12, atol=0)
    path = _table(tmp_path, "milli.csv", "freq_Hz,Zre_mOhm,minus_Zim_mOhm\n" + _rows(
        [lambda f, z: f, lambda f, z: z.real * 1e3, lambda f, z: -z.imag * 1e3]))
    np.testing.assert_allclose(read_spectrum(path).z, truth, rtol=1e-12, atol=0)
    # no units: Hz and ohm, said so
    path = _table(tmp_path, "plain.csv", "freq,Zre,Zim\n" + _rows([lambda f, z: f, lambda f, z: z.real, lambda f, z: z.imag]))
    notes = read_spectrum(path).notes
    assert notes == ["no unit in the header for frequency ('freq'): taken as Hz",
                     "no unit in the header for Z' ('Zre'): taken as ohm", "no unit in the header for Z'' ('Zim'): taken as ohm"]
    # impedance.py's saveCSV writes its header as a comment line: "# freq,Re(Z),Im(Z)"
    from impedance.preprocessing import saveCSV

    saved = tmp_path / "saved.csv"
    saveCSV(str(saved), MAKE.FREQUENCIES, truth)
    spectrum = read_spectrum(saved)
    assert "column names read from comment line 1" in spectrum.notes
    np.testing.assert_allclose(spectrum.z, truth, rtol=1e-15, atol=0)  # numpy's savetxt writes %.18e: round trip
    for name, text, message in [
        ("phase.csv", "f (Hz),|Z| (Ohm),phase\n" + _rows([lambda f, z: f, lambda f, z: abs(z), lambda f, z: np.angle(z)]),
         "'phase': no unit (deg or rad?)"),
        ("names.csv", "Frequenz,Realteil,Imaginaerteil\n" + _rows([lambda f, z: f, lambda f, z: z.real, lambda f, z: z.imag]),
         "the header names no column argyrodb knows"),
        ("count.txt", "Frequency (Hz) Z' (Ohm)\n1e6 25 -1 3\n", "the header has 2 names for the 4 columns"),
        ("mixed.csv", "f (Hz);Z' (Ohm);Z'' (Ohm)\n" + "\n".join(["1,5;2,5;-3,5", "1.5;2.5;-3.5"] * 5), "decimal point where"),
        ("negf.csv", "-f (Hz),Z' (Ohm),Z'' (Ohm)\n" + _rows([lambda f, z: f, lambda f, z: z.real, lambda f, z: z.imag]),
         "a negated frequency"),
        ("short.csv", "frequency_Hz,z_real_ohm,z_imag_ohm\n1e6,10,-1\n1e5,12,-3\n", "only 2 data points (need at least 8)"),
        ("binary.dat", "\x00\x01\x02", "a binary file"),
        ("fake.mpr", "1,2,3\n", "not a BioLogic .mpr file"),
    ]:
        path = _table(tmp_path, name, text)
        with pytest.raises(InputError) as error:
            read_spectrum(path)
        assert error.value.source == str(path) and message in error.value.problem, (name, error.value.problem)


def test_instrument_header_must_match_the_readers_positions(tmp_path):
    """impedance.py's readers take columns by position: a file whose header names other columns there is refused."""
    text = (FORMATS / "pellet.DTA").read_bytes().decode("latin-1")
    swapped = _table(tmp_path, "swapped.DTA", text.replace("\tZreal\tZimag\t", "\tZimag\tZreal\t"), "latin-1")
    with pytest.raises(InputError, match=r"does not match the layout impedance.py's readGamry reads by position .* "
                                         r"column 4 is 'Zimag', column 5 is 'Zreal'"):
        read_spectrum(swapped)
    text = (FORMATS / "pellet.z").read_text()
    moved = _table(tmp_path, "moved.z", text.replace("Time(Sec)\tZ'(a)", "Z'(a)\tTime(Sec)"))
    with pytest.raises(InputError, match=r"readZPlot reads by position .* column 5 is 'Time\(Sec\)'"):
        read_spectrum(moved)


def test_utf16_table(tmp_path):
    """Some Windows programs export UTF-16 text (with its byte-order mark): read, with a note."""
    path = _table(tmp_path, "utf16.csv", (FORMATS / "pellet.csv").read_text(), "utf-16")
    spectrum = read_spectrum(path)
    assert spectrum.notes == ["read as utf-16 (not UTF-8)"]
    np.testing.assert_array_equal(spectrum.z, read_spectrum(FORMATS / "pellet.csv").z)  # the same decimal literals


def test_latin1_instrument_file_through_a_utf8_reader(tmp_path):
    """CH Instruments files are opened by impedance.py in the locale's encoding (UTF-8 here): a Latin-1 one (°C in
    a note) is read through a temporary UTF-8 copy, with a note, and gives the same numbers."""
    text = (FORMATS / "pellet_chi.txt").read_text().replace("Note: synthetic", "Note: 25 °C, synthetic")
    path = _table(tmp_path, "latin1_chi.txt", text, "latin-1")
    spectrum = read_spectrum(path)
    reference = read_spectrum(FORMATS / "pellet_chi.txt")
    np.testing.assert_array_equal(spectrum.z, reference.z)  # the same digits read by the same function
    if codecs.lookup(locale.getpreferredencoding(False)).name == "utf-8":
        assert spectrum.notes == ["readCHInstruments opens files as UTF-8, which this file is not: it read a UTF-8 copy"]


def test_cli_refuses_an_ambiguous_file_in_one_line():
    path = FORMATS / "ambiguous_5_columns.txt"
    result = run("eis", "fit", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr and "5 columns and no header" in result.stderr


def test_cli_sweeps(tmp_path):
    pytest.importorskip("galvani")
    path = FORMATS / "pellet_3sweeps.mpr"
    refused = run("eis", "fit", str(path))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert f"{path}: 3 sweeps (cycle number 1 to 3); choose one with --sweep K" in refused.stderr
    wrong = run("eis", "fit", str(path), "--sweep", "4")
    assert wrong.returncode == 2 and wrong.stderr.startswith("argyrodb: error: --sweep: ") and str(path) in wrong.stderr


def test_cli_fits_the_impedance_columns_of_a_zplot_file():
    """ZPlot's second column is the AC amplitude (1.0000E-02 V): the reader takes Freq(Hz), Z'(a), Z''(b). The fit of
    the file's own circuit from starting values 20 % off recovers it: the data are the circuit rounded to 5 digits,
    so R0 and R1 within 0.1 %."""
    result = run("eis", "fit", str(FORMATS / "pellet.z"), "--circuit", "R0-p(R1,CPE1)-CPE2",
                 "--initial", "20,150,1e-7,0.8,1e-6,0.8", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    values = {p["name"]: p["value"] for p in payload["parameters"]}
    assert values["R0"] == pytest.approx(MAKE.R0, rel=1e-3) and values["R1"] == pytest.approx(MAKE.R1, rel=1e-3)
    assert values["CPE2_1"] == pytest.approx(MAKE.A2, rel=1e-3)
    read = payload["spectrum"]
    assert read["instrument"] == "Scribner ZPlot/ZView (.z)" and read["reader"] == "impedance.preprocessing.readZPlot"
    assert read["n_points"] == 71 and read["frequency_range_hz"] == pytest.approx([0.1, 1e6], rel=1e-6)
    text = run("eis", "fit", str(FORMATS / "pellet.z"), "--circuit", "R0-p(R1,CPE1)-CPE2", "--initial", "20,150,1e-7,0.8,1e-6,0.8")
    assert text.stdout.startswith("pellet: 71 points, 0.1 to 1e+06 Hz, Scribner ZPlot/ZView (.z) (impedance.preprocessing.readZPlot)\n")
    assert "  read: line 15: area 0.785 without a length unit: not used" in text.stdout


def test_read_does_not_leave_temporary_copies(tmp_path, monkeypatch):
    """The temporary copy a reader may need is removed: nothing is left in the temporary folder."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    text = (FORMATS / "pellet_autolab.txt").read_bytes().decode("utf-8-sig").replace('""', '"25 °C"', 1)
    path = _table(tmp_path, "latin1_autolab.txt", text, "latin-1")  # readAutolab opens files as UTF-8
    spectrum = read_spectrum(path)
    assert "readAutolab opens files as utf-8, which this file is not: it read a utf-8 copy" in spectrum.notes
    np.testing.assert_array_equal(spectrum.z, read_spectrum(FORMATS / "pellet_autolab.txt").z)
    assert list(scratch.iterdir()) == []


def test_line_numbers_agree_with_impedance_pys_readers(tmp_path):
    """A cp1252 ellipsis (byte 0x85) in an EC-Lab comment is a line break to str.splitlines but not to a file's
    readlines, which impedance.py's readBioLogic uses: the header line and the sweeps are still found where the
    reader finds them."""
    data = (FORMATS / "pellet_2sweeps.mpt").read_bytes().replace(b"Comments : synthetic", b"Comments : synthetic\x85")
    path = tmp_path / "ellipsis.mpt"
    path.write_bytes(data)
    with pytest.raises(InputError, match="2 sweeps"):
        read_spectrum(path)
    spectrum = read_spectrum(path, sweep=2)
    np.testing.assert_allclose(spectrum.z, MAKE.impedance(spectrum.frequency_hz, MAKE.R1 * 1.1), rtol=_rtol("pellet.mpt"), atol=0)
