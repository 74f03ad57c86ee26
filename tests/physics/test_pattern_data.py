"""Reading measured powder patterns: every format, real PANalytical XRDML files, and every kind of bad file."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from argyrodb.core.errors import InputError, ParameterError
from argyrodb.physics.pattern_data import MIN_POINTS, PowderData, read_powder_data
from argyrodb_testing import DATA

PATTERNS = DATA / "patterns"


def _rows(n=12, start=10.0, step=0.5, counts=100.0):
    return [(start + step * i, counts + i) for i in range(n)]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(path, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        read_powder_data(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return info.value


# --------------------------------------------------------------------------- XRDML (the layout of an Empyrean export)


def _layout_counts():
    sys.path.insert(0, str(PATTERNS))
    try:
        from make_files import counts
    finally:
        sys.path.remove(str(PATTERNS))
    return counts()


def test_empyrean_xrdml_with_intensities():
    """tests/data/patterns/empyrean_layout.xrdml (written by make_files.py there, in Data Collector's layout; real
    exports are checked outside the repository by `make check-xrd-real`)."""
    data = read_powder_data(PATTERNS / "empyrean_layout.xrdml")
    assert isinstance(data, PowderData)
    assert data.n_points == 196
    assert data.two_theta_deg[0] == pytest.approx(30.05)
    assert data.two_theta_deg[-1] == pytest.approx(41.75)
    assert np.diff(data.two_theta_deg) == pytest.approx(np.full(195, 0.06))
    assert np.array_equal(data.counts, _layout_counts())
    assert data.kind == "counts" and data.sigma is None
    assert data.counting_time_s == pytest.approx(0.44)
    assert data.counts_per_second()[0] == pytest.approx(data.counts[0] / 0.44)
    assert data.wavelength == "Cu K-alpha1 1.540598 A, K-alpha2 1.544426 A, K-alpha2/K-alpha1 0.5"
    info = data.metadata["wavelength"]
    assert info["kalpha1_angstrom"] == 1.540598 and info["kalpha2_angstrom"] == 1.544426
    assert info["ratio_kalpha2_kalpha1"] == 0.5 and info["kbeta_angstrom"] == 1.39225 and info["anode"] == "Cu"
    assert data.metadata["scan_axis"] == "2Theta" and data.metadata["counts_element"] == "intensities"
    assert data.metadata["goniometer_radius_mm"] == 240.0
    assert data.metadata["namespace"].endswith("XRDMeasurement/1.5")
    assert subprocess.run([sys.executable, str(PATTERNS / "make_files.py"), "--check"], capture_output=True).returncode == 0
    assert data.metadata["notes"] == []
    components = data.wavelength_components()
    assert [(c.wavelength_angstrom, c.weight) for c in components] == [(1.540598, 1.0), (1.544426, 0.5)]


def test_xrdml_with_several_scans_reads_the_first_and_says_so(tmp_path):
    text = (PATTERNS / "empyrean_layout.xrdml").read_text(encoding="utf-8")
    start = text.index("<scan ")
    end = text.index("</scan>") + len("</scan>")
    second = text[start:end].replace("<startPosition>30.0500", "<startPosition>40.0500").replace(
        "<endPosition>41.7500", "<endPosition>51.7500")
    path = _write(tmp_path, "two.xrdml", text[:end] + second + text[end:])
    first = read_powder_data(path)
    assert first.two_theta_deg[0] == pytest.approx(30.05)
    assert first.metadata["n_scans"] == 2 and "2 scans" in first.metadata["notes"][0]
    other = read_powder_data(path, scan=1)
    assert other.two_theta_deg[0] == pytest.approx(40.05)
    with pytest.raises(ParameterError, match="scan 2 does not exist"):
        read_powder_data(path, scan=2)


def _xrdml(points: str, extra: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5">
 <xrdMeasurement measurementType="Scan" status="Completed">
  <usedWavelength intended="K-Alpha 1"><kAlpha1 unit="Angstrom">1.5405980</kAlpha1></usedWavelength>
  <scan appendNumber="0" mode="Continuous" scanAxis="Gonio" status="Completed">
   <dataPoints>{points}{extra}</dataPoints>
  </scan>
 </xrdMeasurement>
</xrdMeasurements>
"""


def test_xrdml_list_positions_attenuation_and_cps(tmp_path):
    positions = " ".join(f"{10 + 0.1 * i:.1f}" for i in range(12))
    counts = " ".join(str(100 + i) for i in range(12))
    factors = " ".join(["1"] * 11 + ["10"])
    points = (f'<positions axis="2Theta" unit="deg"><listPositions>{positions}</listPositions></positions>'
              '<commonCountingTime unit="seconds">2.0</commonCountingTime>'
              f'<counts unit="counts">{counts}</counts><beamAttenuationFactors>{factors}</beamAttenuationFactors>')
    data = read_powder_data(_write(tmp_path, "list.xrdml", _xrdml(points)))
    assert data.two_theta_deg[-1] == pytest.approx(11.1)
    assert data.counts[-1] == 1110.0 and data.counts[0] == 100.0
    assert data.sigma[-1] == pytest.approx(10 * math.sqrt(111)) and data.sigma[0] == pytest.approx(10.0)
    assert "beamAttenuationFactors" in data.metadata["notes"][0]
    assert data.wavelength == "K-alpha1 1.540598 A" and len(data.wavelength_components()) == 1

    cps = points.replace('<counts unit="counts">', '<intensities unit="cps">').replace("</counts>", "</intensities>")
    data = read_powder_data(_write(tmp_path, "cps.xrdml", _xrdml(cps)))
    assert data.kind == "counts_per_second" and data.sigma is None
    assert data.counts_total()[0] == pytest.approx(200.0)


_RANGE = '<positions axis="2Theta" unit="deg"><startPosition>10</startPosition><endPosition>20</endPosition></positions>'
_OMEGA = '<positions axis="Omega" unit="deg"><startPosition>10</startPosition><endPosition>20</endPosition></positions>'


def _intensities(values) -> str:
    return '<intensities unit="counts">' + " ".join(str(v) for v in values) + "</intensities>"


@pytest.mark.parametrize("body, message", [
    (_RANGE + _intensities([1, 2, 3]), "only 3 data points"),
    ('<positions axis="2Theta" unit="deg"><commonPosition>40</commonPosition></positions>' + _OMEGA
     + _intensities([5] * 12), "2Theta does not move"),
    (_OMEGA + _intensities([5] * 12), 'no <positions axis="2Theta">'),
    (_RANGE, "neither <intensities> nor <counts>"),
    (_RANGE + _intensities([5] * 11 + ["x"]), "non-number 'x'"),
    (_RANGE + _intensities([5] * 11 + [-3]), "counts must not be negative"),
    (_RANGE + _intensities([5] * 11 + ["nan"]), "not finite"),
    ('<positions axis="2Theta" unit="deg"><listPositions>' + " ".join(["10"] * 12) + "</listPositions></positions>"
     + _intensities([5] * 12), "must increase strictly"),
])
def test_bad_xrdml_files(tmp_path, body, message):
    error = _error(_write(tmp_path, "bad.xrdml", _xrdml(body)))
    assert message in error.problem


def test_malformed_and_foreign_xml(tmp_path):
    error = _error(_write(tmp_path, "broken.xrdml", "<xrdMeasurements>\n<scan>\n</xrdMeasurements>\n"))
    assert "malformed XML" in error.problem and error.source.endswith(":3")
    error = _error(_write(tmp_path, "other.xrdml", "<?xml version='1.0'?><html></html>"))
    assert "root element is <html>" in error.problem
    error = _error(_write(tmp_path, "empty.xrdml", _xrdml("").replace("<scan", "<notascan").replace("</scan>", "</notascan>")))
    assert "no <xrdMeasurement><scan>" in error.problem
    error = _error(_write(tmp_path, "encoding.xrdml", '<?xml version="1.0" encoding="utf-99"?><xrdMeasurements/>'))
    assert "unreadable XML (unknown encoding: utf-99)" in error.problem


# --------------------------------------------------------------------------- text formats


def test_synthetic_files_in_every_text_format():
    xy = read_powder_data(PATTERNS / "synthetic.xy")
    xye = read_powder_data(PATTERNS / "synthetic.xye")
    csv = read_powder_data(PATTERNS / "synthetic.csv")
    for data in (xy, xye, csv):
        assert data.n_points == 20 and data.two_theta_range == (10.0, 19.5)
        assert data.counts[10] == pytest.approx(150.0) and data.kind == "intensity" and data.wavelength is None
    assert xy.sigma is None and xy.metadata["header"] == ["2theta intensity"]
    assert len(xy.metadata["comments"]) == 2
    assert xye.sigma[0] == pytest.approx(10.0) and csv.sigma[10] == pytest.approx(math.sqrt(150.0), abs=1e-3)
    assert csv.metadata["header"] == ["two_theta_deg,counts,sigma"]
    assert xy.name == "synthetic" and xy.source.endswith("synthetic.xy")


@pytest.mark.parametrize("suffix, separator", [(".xy", " "), (".dat", "\t"), (".txt", ","), (".txt", "; "), (".csv", ",")])
def test_two_column_separators_and_comments(tmp_path, suffix, separator):
    lines = ["; a comment", "# another", "! and another", ""]
    lines += [f"{x:.2f}{separator}{y:.1f}   # trailing note" if i == 3 else f"{x:.2f}{separator}{y:.1f}"
              for i, (x, y) in enumerate(_rows())]
    data = read_powder_data(_write(tmp_path, "p" + suffix, "\r\n".join(lines) + "\r\n"))
    assert data.n_points == 12 and data.sigma is None and data.counts[3] == 103.0


def test_three_columns_in_an_xy_file_are_sigma(tmp_path):
    text = "\n".join(f"{x} {y} {math.sqrt(y)}" for x, y in _rows())
    data = read_powder_data(_write(tmp_path, "with_sigma.dat", text))
    assert data.sigma is not None and data.sigma[0] == pytest.approx(10.0)


def test_format_override_and_unknown_extension(tmp_path):
    path = _write(tmp_path, "pattern.bin", "\n".join(f"{x} {y}" for x, y in _rows()))
    assert _error(path).problem.startswith("unknown pattern format '.bin'")
    assert read_powder_data(path, fmt="xy").n_points == 12
    with pytest.raises(ParameterError, match="unknown format 'cif'"):
        read_powder_data(path, fmt="cif")
    with pytest.raises(ParameterError, match="only XRDML, BRML, RAW, RAS, RASX, GSAS files have several scans"):
        read_powder_data(path, fmt="xy", scan=1)
    # .raw is Bruker's binary or GSAS text: two text columns are neither
    raw = _write(tmp_path, "pattern.raw", "\n".join(f"{x} {y}" for x, y in _rows()))
    assert _error(raw).problem.startswith("neither a Bruker RAW file")


def _numbered(rows, bad_index, bad_line):
    lines = [f"{x} {y}" for x, y in rows]
    lines[bad_index] = bad_line
    return "# header comment\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("name, bad_line, message", [
    ("p.xy", "12.5 oops", "expected numbers, got '12.5 oops'"),
    ("p.xy", "11.0 105", "2theta values must increase strictly: 11 after 12"),
    ("p.xy", "12.5 -4", "negative counts -4"),
    ("p.xy", "12.5 nan", "non-finite value"),
    ("p.xy", "12.5 inf", "non-finite value"),
    ("p.xy", "12.5 3 4 5", "4 columns where line 2 has 2"),
    ("p.xye", "12.5 3 0", "sigma must be positive, got 0"),
    ("p.xye", "12.5 3 -1", "sigma must be positive, got -1"),
])
def test_bad_line_is_named(tmp_path, name, bad_line, message):
    rows = [(x, y, 1.0) for x, y in _rows()] if name.endswith(".xye") else _rows()
    lines = [" ".join(str(v) for v in row) for row in rows]
    lines[5] = bad_line
    path = _write(tmp_path, name, "# header comment\n" + "\n".join(lines) + "\n")
    error = _error(path)
    assert error.source == f"{path}:7"  # the comment is line 1, the sixth data row line 7
    assert message in error.problem


def test_wrong_number_of_columns(tmp_path):
    assert "1 columns; a .xy/.dat/.txt file has 2 or 3" in _error(
        _write(tmp_path, "one.xy", "\n".join(str(x) for x, _ in _rows()))).problem
    assert "2 columns; a .xye file has 3" in _error(
        _write(tmp_path, "two.xye", "\n".join(f"{x} {y}" for x, y in _rows()))).problem
    assert "4 columns" in _error(_write(tmp_path, "four.csv", "\n".join(f"{x},{y},1,2" for x, y in _rows()))).problem


def test_too_few_points_and_empty_files(tmp_path):
    few = _rows(MIN_POINTS - 1)
    assert f"only {MIN_POINTS - 1} data points" in _error(
        _write(tmp_path, "few.xy", "\n".join(f"{x} {y}" for x, y in few))).problem
    assert "only 0 data points" in _error(_write(tmp_path, "empty.csv", "2theta,counts\n")).problem
    assert "no such file" in _error(tmp_path / "missing.xy").problem


def test_two_theta_range_and_non_utf8(tmp_path):
    rows = [(170.0 + i, 10.0) for i in range(12)]
    assert "between 0 and 180" in _error(_write(tmp_path, "high.xy", "\n".join(f"{x} {y}" for x, y in rows))).problem
    path = tmp_path / "latin1.xy"
    path.write_bytes(("# 2\xb0theta\n" + "\n".join(f"{x} {y}" for x, y in _rows())).encode("latin-1"))
    assert "not UTF-8" in _error(path).problem


def test_decreasing_file_of_the_cli_cases_keeps_its_message():
    """tests/data/bad_inputs/measured_decreasing.xy: the message the CLI test expects from read_xy."""
    error = _error(DATA / "bad_inputs" / "measured_decreasing.xy")
    assert "2theta values must increase strictly" in error.problem


# --------------------------------------------------------------------------- PowderData


def test_powder_data_is_immutable_and_selectable():
    data = read_powder_data(PATTERNS / "synthetic.xye")
    with pytest.raises(ValueError):
        data.counts[0] = 1.0
    with pytest.raises(AttributeError):
        data.counts = np.zeros(3)
    part = data.select((12.0, 17.0))
    assert part.two_theta_range == (12.0, 17.0) and part.n_points == 11 and part.sigma.shape == (11,)
    with pytest.raises(ParameterError, match="only 3 of the 20"):
        data.select((10.0, 11.0))


def test_powder_data_checks_arrays_built_in_python():
    x = np.linspace(10, 20, 12)
    with pytest.raises(InputError, match="counts must not be negative"):
        PowderData(x, -np.ones(12), None, "mem", None)
    with pytest.raises(InputError, match="must increase strictly"):
        PowderData(x[::-1], np.ones(12), None, "mem", None)
    with pytest.raises(InputError, match="sigma must be positive"):
        PowderData(x, np.ones(12), np.zeros(12), "mem", None)
    with pytest.raises(ParameterError, match="unknown kind"):
        PowderData(x, np.ones(12), None, "mem", None, kind="volts")
    data = PowderData(x, np.ones(12), None, "mem", None)
    assert data.counts_per_second() is None and data.wavelength_components() is None


def test_xrdml_raw_counts_element_reads_like_intensities(tmp_path):
    # the same scan written with <counts> (the Gonio/raw-count variant of the schema) gives the same numbers
    text = (PATTERNS / "empyrean_layout.xrdml").read_text(encoding="utf-8")
    raw = tmp_path / "raw.xrdml"
    raw.write_text(text.replace("<intensities", "<counts").replace("</intensities>", "</counts>"), encoding="utf-8")
    a, b = read_powder_data(PATTERNS / "empyrean_layout.xrdml"), read_powder_data(raw)
    assert b.metadata["counts_element"] == "counts"
    assert np.array_equal(a.counts, b.counts) and np.array_equal(a.two_theta_deg, b.two_theta_deg)
