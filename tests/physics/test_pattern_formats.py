"""Diffractometer formats (Bruker .brml and .raw v3/v4, Rigaku .ras/.rasx, GSAS STD/ESD/FXYE): the files of
tests/data/xrd_formats, written by its make_files.py from known arrays in each instrument's layout, come back as
those arrays with the file's wavelength; broken files are refused in one line naming the file."""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from argyrodb.core.errors import InputError, ParameterError
from argyrodb.physics.pattern_data import read_powder_data
from argyrodb_testing import DATA

FORMATS = DATA / "xrd_formats"


def _generator():
    spec = importlib.util.spec_from_file_location("xrd_formats_make_files", FORMATS / "make_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _generator()
STEPPED = 20.0 + 0.05 * np.arange(MAKE.N)  # 2theta of the formats that store a start and a step
BRUKER = [(1.5406, 1.0), (1.54439, 0.5)]
RIGAKU = [(1.540593, 1.0), (1.544414, 0.5)]


def _error(path, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        read_powder_data(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return info.value


def _components(data) -> list[tuple[float, float]]:
    return [(c.wavelength_angstrom, c.weight) for c in data.wavelength_components()]


def test_the_files_are_what_make_files_writes():
    assert MAKE.main(["--check"]) == 0


# --------------------------------------------------------------------------- the arrays come back


def test_brml_one_scan():
    data = read_powder_data(FORMATS / "pattern.brml")
    assert np.array_equal(data.two_theta_deg, MAKE.TWO_THETA) and np.array_equal(data.counts, MAKE.COUNTS)
    assert data.kind == "counts" and data.sigma is None and data.metadata["notes"] == []
    assert data.counting_time_s == pytest.approx(0.4 * 192)  # the PSD's effective time per step
    assert _components(data) == BRUKER
    assert data.wavelength == "Cu K-alpha1 1.5406 A, K-alpha2 1.54439 A, K-alpha2/K-alpha1 0.5"
    assert data.metadata["wavelength"]["kbeta_angstrom"] == 1.39222
    assert data.metadata["sample_name"] == "LPSCl synthetic" and data.metadata["goniometer_radius_mm"] == 280.0
    assert data.metadata["format"] == "brml" and data.metadata["n_scans"] == 1


def test_brml_second_scan_with_absorber_and_channel_cut_monochromator():
    first = read_powder_data(FORMATS / "pattern_2scans.brml")
    assert np.array_equal(first.two_theta_deg, MAKE.TWO_THETA_2) and np.array_equal(first.counts, MAKE.COUNTS_2)
    assert "2 scans; scan 0 was read" in first.metadata["notes"][0] and len(_components(first)) == 2
    data = read_powder_data(FORMATS / "pattern_2scans.brml", scan=1)
    factors = MAKE.absorber_factors(MAKE.COUNTS)
    assert np.array_equal(data.counts, MAKE.COUNTS)  # stored already multiplied by the absorber factor
    assert data.sigma == pytest.approx(factors * np.sqrt(MAKE.COUNTS / factors))
    assert any("absorber" in note for note in data.metadata["notes"])
    assert data.metadata["wavelength"]["incident_monochromator"] == "Ge022ACC"
    assert _components(data) == BRUKER[:1]  # K-alpha1 only
    with pytest.raises(ParameterError, match="scan 2 does not exist"):
        read_powder_data(FORMATS / "pattern_2scans.brml", scan=2)


def test_raw_version_3_two_ranges():
    data = read_powder_data(FORMATS / "pattern_v3.raw")
    np.testing.assert_allclose(data.two_theta_deg, MAKE.TWO_THETA, rtol=0, atol=1e-9)
    assert np.array_equal(data.two_theta_deg, STEPPED) and np.array_equal(data.counts, MAKE.COUNTS)
    assert data.kind == "counts" and data.counting_time_s == np.float32(0.4)
    assert _components(data) == BRUKER and data.metadata["version"] == "RAW1.01"
    assert data.metadata["sample_name"] == "LPSCl synthetic" and data.metadata["goniometer_radius_mm"] == 217.5
    assert "2 ranges; range 0 was read" in data.metadata["notes"][0]
    second = read_powder_data(FORMATS / "pattern_v3.raw", scan=1)
    assert np.array_equal(second.counts, MAKE.COUNTS_2) and second.two_theta_range[0] == 30.0


def test_raw_version_4_with_eight_byte_records():
    data = read_powder_data(FORMATS / "pattern_v4.raw")
    assert np.array_equal(data.two_theta_deg, STEPPED) and np.array_equal(data.counts, MAKE.COUNTS)
    assert data.counting_time_s == np.float32(0.4 * 192) and _components(data) == BRUKER
    assert data.metadata["version"] == "RAW4.00" and data.metadata["scan_type"] == "Locked Coupled"
    assert data.metadata["sample_name"] == "LPSCl synthetic" and data.metadata["user"] == "Test user"


def test_raw_ratio_zero_means_kalpha1_only(tmp_path):
    """A RAW4 file written behind a K-alpha1 monochromator has K-alpha2 and its ratio 0 (a real DIFFRAC.EVA file)."""
    content = bytearray(MAKE.pattern_v4_raw())
    tube = content.index(struct.pack("<5d", 1.5418, 1.5406, 1.54439, 1.39222, 0.5))
    struct.pack_into("<5d", content, tube, 1.5406, 1.5406, 0.0, 1.39222, 0.0)
    path = tmp_path / "ka1.raw"
    path.write_bytes(bytes(content))
    data = read_powder_data(path)
    assert _components(data) == BRUKER[:1] and "kalpha2_angstrom" not in data.metadata["wavelength"]


def test_ras_two_scans_attenuation_and_shift_jis():
    data = read_powder_data(FORMATS / "pattern.ras")
    factors = MAKE.absorber_factors(MAKE.COUNTS)
    assert np.array_equal(data.two_theta_deg, MAKE.TWO_THETA)
    np.testing.assert_allclose(data.counts, MAKE.attenuated_counts(MAKE.COUNTS) * factors, rtol=1e-15)
    assert data.counts == pytest.approx(MAKE.COUNTS, rel=1e-4)  # the stored counts are printed to 4 decimals
    assert data.sigma == pytest.approx(factors * np.sqrt(MAKE.attenuated_counts(MAKE.COUNTS)))
    assert data.counting_time_s == pytest.approx(60 * 0.05 / 8.0)  # step over speed in deg/min
    assert _components(data) == RIGAKU and data.metadata["wavelength"]["ratio_assumed"]
    assert data.metadata["comments"] == ["テスト試料"]
    assert any("no K-alpha2/K-alpha1 ratio" in n for n in data.metadata["notes"])
    second = read_powder_data(FORMATS / "pattern.ras", scan=1)
    assert np.array_equal(second.counts, MAKE.COUNTS_2) and second.sigma is None


def test_rasx_wave_type_kalpha1():
    data = read_powder_data(FORMATS / "pattern.rasx")
    assert np.array_equal(data.two_theta_deg, MAKE.TWO_THETA) and np.array_equal(data.counts, MAKE.COUNTS)
    assert _components(data) == RIGAKU[:1] and data.metadata["wavelength"]["kalpha1_only"] == "wave type Ka1"
    assert data.counting_time_s == pytest.approx(3.0) and data.metadata["member"] == "Data0/Profile0.txt"


def test_gsas_std_esd_fxye():
    std = read_powder_data(FORMATS / "pattern_std.gsa")
    np.testing.assert_allclose(std.two_theta_deg, MAKE.TWO_THETA, rtol=0, atol=1e-9)
    assert np.array_equal(std.counts, MAKE.COUNTS) and std.kind == "counts" and std.sigma is None
    assert std.wavelength is None and std.wavelength_components() is None

    esd = read_powder_data(FORMATS / "pattern_esd.gsa")
    assert np.array_equal(esd.counts, MAKE.SUBTRACTED) and np.array_equal(esd.sigma, MAKE.SUBTRACTED_SIGMA)
    assert esd.kind == "intensity" and esd.counts.min() < 0
    assert "intensities are negative" in esd.metadata["notes"][0]

    fxye = read_powder_data(FORMATS / "pattern.fxye")
    assert fxye.n_points == MAKE.N - 1 and "sigma 0" in fxye.metadata["notes"][0]  # no weight in GSAS: left out
    np.testing.assert_allclose(fxye.two_theta_deg, MAKE.TWO_THETA[:-1], rtol=0, atol=1e-9)
    assert np.array_equal(fxye.counts, MAKE.COUNTS[:-1])
    assert _components(fxye) == [(MAKE.SYNCHROTRON_WAVELENGTH, 1.0)] and fxye.wavelength == "0.413529 A"


def test_gsas_text_with_a_raw_extension_is_read_as_gsas(tmp_path):
    path = tmp_path / "gsas.raw"
    path.write_bytes(MAKE.pattern_std_gsa())
    assert np.array_equal(read_powder_data(path).counts, MAKE.COUNTS)


def test_negative_intensities_need_a_sigma_column(tmp_path):
    rows = [(10 + 0.1 * i, -5.0 + i, 3.0) for i in range(12)]
    with_sigma = tmp_path / "subtracted.xye"
    with_sigma.write_text("\n".join(f"{x:.1f} {y} {s}" for x, y, s in rows))
    data = read_powder_data(with_sigma)
    assert data.kind == "intensity" and data.counts[0] == -5.0 and "5 of 12 intensities are negative" in data.metadata["notes"][0]
    without = tmp_path / "subtracted.xy"
    without.write_text("\n".join(f"{x:.1f} {y}" for x, y, _ in rows))
    assert "negative counts -5" in _error(without).problem


# --------------------------------------------------------------------------- refusals


def _edit_zip(source, target, edit):
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members = edit(members)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _raw_xml(edit):
    return lambda members: {**members, "Experiment0/RawData0.xml": edit(members["Experiment0/RawData0.xml"].decode()).encode()}


@pytest.mark.parametrize("edit, message", [
    (_raw_xml(lambda t: t.replace('<RawDataView xsi:type="RecordedRawDataView"', '<RawDataView xsi:type="Unknown"')),
     "no recorded view in counts"),
    (_raw_xml(lambda t: t.replace('FieldName="TwoTheta" AxisId="TwoTheta"', 'FieldName="Omega" AxisId="Omega"')),
     "2theta is not a scanned axis"),
    (_raw_xml(lambda t: t.replace(",23.0000,11.5000,", ",23.0000,")), "<Datum> 61 has 4 values where the data views name 5"),
    (_raw_xml(lambda t: t.replace(",23.0000,11.5000,", ",23.0000,x,")), "<Datum> 61 holds a non-number"),
    (_raw_xml(lambda t: t.replace("<DataViews>", "<DataViewsX>").replace("</DataViews>", "</DataViewsX>")), "no <DataViews>"),
    (_raw_xml(lambda t: t.replace("</RawData>", "")), "Experiment0/RawData0.xml: malformed XML"),
    (lambda m: {k: v for k, v in m.items() if "RawData" not in k}, "has no member Experiment0/RawData0.xml"),
])
def test_bad_brml(tmp_path, edit, message):
    path = _edit_zip(FORMATS / "pattern.brml", tmp_path / "bad.brml", edit)
    assert message in _error(path).problem


def test_truncated_and_foreign_archives(tmp_path):
    for name in ("pattern.brml", "pattern.rasx"):
        content = (FORMATS / name).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(content[: len(content) // 2])
        assert "damaged or truncated ZIP archive" in _error(cut).problem
        text = tmp_path / f"text_{name}"
        text.write_text("2theta counts\n10 5\n")
        assert "not a ZIP archive" in _error(text).problem
    bad_crc = bytearray((FORMATS / "pattern.brml").read_bytes())
    at = bad_crc.index(b"Experiment0/RawData0.xml") + len("Experiment0/RawData0.xml") + 40  # inside its deflated data
    bad_crc[at] ^= 0xFF
    path = tmp_path / "crc.brml"
    path.write_bytes(bytes(bad_crc))
    assert "RawData0.xml" in _error(path).problem


def test_bad_raw_files(tmp_path):
    cases = {
        "magic.raw": (b"\x89PNG\r\n\x1a\n" + bytes(800), "neither a Bruker RAW file"),
        "v1.raw": (b"RAW " + bytes(800), "version 1 (DIFFRAC-AT) is not read"),
        "v3_cut.raw": (MAKE.pattern_v3_raw()[:1500], "truncated"),
        "v3_header.raw": (MAKE.pattern_v3_raw()[:500], "truncated: the RAW1.01 file header"),
        "v3_tail.raw": (MAKE.pattern_v3_raw() + b"\x01\x02\x03\x04", "4 bytes after the last range"),
        "v4_cut.raw": (MAKE.pattern_v4_raw()[:-100], "truncated"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert message in _error(path).problem, name
    negative = bytearray(MAKE.pattern_v3_raw())
    struct.pack_into("<f", negative, 712 + 304 + 40 + 4 * 5, -3.0)
    path = tmp_path / "negative.raw"
    path.write_bytes(bytes(negative))
    assert "counts must not be negative (point 6: -3)" in _error(path).problem
    rocking = bytearray(MAKE.pattern_v3_raw())
    struct.pack_into("<I", rocking, 712 + 196, 3)
    path.write_bytes(bytes(rocking))
    assert "scan type 3 does not scan 2theta" in _error(path).problem


def _ras_lines():
    return MAKE.pattern_ras().decode("cp932").split("\r\n")


@pytest.mark.parametrize("edit, where, message", [
    (lambda lines: lines[:40] + ["20.3500 oops 1.0000"] + lines[41:], 41, "expected numbers, got '20.3500 oops 1.0000'"),
    (lambda lines: lines[:40] + ["20.3500 -4 1.0000"] + lines[41:], 41, "negative counts -4"),
    (lambda lines: lines[:40] + ["20.3500 4 0"] + lines[41:], 41, "attenuation factor 0 is not positive"),
    (lambda lines: lines[:40] + ["20.3500 4 1 7"] + lines[41:], 41, "4 values where a RAS data row"),
    (lambda lines: lines[:40] + lines[41:], 151, "119 data rows where *MEAS_DATA_COUNT declares 120"),
    (lambda lines: lines[:100], None, "no *RAS_INT_END and 69 rows where *MEAS_DATA_COUNT declares 120"),
    (lambda lines: [line.replace('"TwoThetaTheta"', '"Omega"') for line in lines], 2, "the scan axis is 'Omega'"),
    (lambda lines: [line.replace('UNIT_Y "counts"', 'UNIT_Y "furlongs"') for line in lines], 2, "unknown unit 'furlongs'"),
    (lambda lines: ["*RAS_DATA_START", "10 5 1"], None, "no *RAS_HEADER_START"),
])
def test_bad_ras(tmp_path, edit, where, message):
    path = tmp_path / "bad.ras"
    path.write_bytes("\r\n".join(edit(_ras_lines())).encode("cp932"))
    error = _error(path)
    assert message in error.problem
    assert error.source == (f"{path}:{where}" if where else str(path))


def test_bad_rasx(tmp_path):
    def shorter(members):
        profile = members["Data0/Profile0.txt"].decode("utf-8-sig").splitlines(keepends=True)
        return {**members, "Data0/Profile0.txt": "".join(profile[:-3]).encode()}

    assert "117 rows where Data0/MesurementConditions0.xml declares DataCount 120" in _error(
        _edit_zip(FORMATS / "pattern.rasx", tmp_path / "short.rasx", shorter)).problem
    assert "no Data<k>/Profile<k>.txt" in _error(_edit_zip(
        FORMATS / "pattern.rasx", tmp_path / "image.rasx", lambda m: {"root.xml": m["root.xml"]})).problem


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("CONST 2000 5 0 0 STD", "TIME_MAP 2000 5 0 0 STD"), "binning 'TIME_MAP' is not read"),
    (lambda t: t.replace("CONST 2000 5 0 0 STD", "CONST 2000 5 0 0 ALT"), "ALT records are not read"),
    (lambda t: "\r\n".join(t.split("\r\n")[:8]), "ends after 60 of the 120 points"),
    (lambda t: t.replace("     120     120", "     120    x120", 1), "field 2 'x120' is not a STD counter number and count"),
    (lambda t: t.replace("     120     120", "     120    -120", 1), "counts must not be negative"),
    (lambda t: t.replace("BANK", "BLANK"), "no BANK line"),
])
def test_bad_gsas(tmp_path, edit, message):
    path = tmp_path / "bad.gsa"
    path.write_text(edit(MAKE.pattern_std_gsa().decode()), newline="")
    assert message in _error(path).problem


def test_scan_and_format_arguments():
    with pytest.raises(ParameterError, match="scan -1 does not exist"):
        read_powder_data(FORMATS / "pattern_v3.raw", scan=-1)
    with pytest.raises(ParameterError, match="only XRDML, BRML, RAW, RAS, RASX, GSAS files have several scans"):
        read_powder_data(FORMATS / "pattern.ras", fmt="xy", scan=1)
    assert read_powder_data(FORMATS / "pattern_std.gsa", fmt="gsas").n_points == MAKE.N


# --------------------------------------------------------------------------- through the CLI and a refinement


def test_xrd_measured_reads_every_format_and_warns_on_stderr():
    """argyrodb xrd --measured takes the new formats unchanged; the reader's notes reach stderr as warnings."""
    for name in ("pattern.brml", "pattern_v4.raw", "pattern.rasx", "pattern_esd.gsa"):
        done = subprocess.run([sys.executable, "-m", "argyrodb", "xrd", str(DATA.parent.parent / "structures" / "Li6PS5Cl.yaml"),
                               "--two-theta", "15", "30", "--measured", str(FORMATS / name), "--json"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["measured"]["n_points"] == MAKE.N
        if name == "pattern_esd.gsa":
            assert "pattern_esd.gsa: 102 of 120 intensities are negative" in done.stderr
            assert done.stderr.startswith("warning: ")


def test_a_raw_file_refines_with_its_own_wavelength(tmp_path):
    """The refinement test pattern written as a Bruker RAW1.01 file refines to the same lattice parameter, with the
    Cu K-alpha1/K-alpha2 wavelengths the file states (Bruker's 1.5406/1.54439 A)."""
    from argyrodb.pipeline.refine import refine_pattern

    refine = DATA / "refine"
    pattern = np.loadtxt(refine / "clbr_pure.xye")
    steps = np.diff(pattern[:, 0])
    assert np.allclose(steps, steps[0])
    path = tmp_path / "clbr_pure.raw"
    path.write_bytes(MAKE.raw_v3([(float(pattern[0, 0]), float(steps[0]), pattern[:, 1])]))
    result, _, data = refine_pattern(path, refine / "clbr_pure.start.yaml")
    assert data.metadata["format"] == "raw" and "1.5406" in result.settings["wavelength"]
    assert "1.54439" in result.settings["wavelength"]
    truth = __import__("yaml").safe_load((refine / "clbr_pure.truth.yaml").read_text())["phases"][0]["a_angstrom"]
    assert result.phases[0]["a_angstrom"] == pytest.approx(truth, abs=0.001)
