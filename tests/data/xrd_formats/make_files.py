"""Write the diffractometer files of tests/data/xrd_formats: one synthetic powder pattern in the layout of each
instrument format argyrodb reads (Bruker .brml and .raw versions 3 and 4, Rigaku .ras and .rasx, GSAS STD, ESD and
FXYE), so the tests can compare what the readers return with the arrays written here.

    .venv/bin/python tests/data/xrd_formats/make_files.py          # write the files
    .venv/bin/python tests/data/xrd_formats/make_files.py --check  # compare with the stored files, write nothing

The pattern: 2theta from 20 deg in steps of 0.05 deg (``TWO_THETA``, 120 points, written with 4 decimals where a
format prints it), whole counts of two Gaussian peaks on a background of 120 (``COUNTS``). A second scan
(``COUNTS_2``, from 30 deg) fills the files with several scans or ranges. The files store exactly these numbers:
counts come back exactly; 2theta exactly where it is printed, and to the last bits of start + i * step where the
format stores a start and a step (RAW, GSAS STD/ESD). The wavelengths are each format's usual Cu values
(``WAVELENGTHS``), stored as the format stores them. The layouts follow real files (README.md names them); no
instrument's file is copied.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N = 120
TWO_THETA = np.round(20.0 + 0.05 * np.arange(N), 4)
TWO_THETA_2 = np.round(30.0 + 0.05 * np.arange(N), 4)


def _peaks(x: np.ndarray, scale: float) -> np.ndarray:
    y = 120 + scale * (2000 * np.exp(-(((x - 23.0) / 0.08) ** 2)) + 900 * np.exp(-(((x - 24.5) / 0.12) ** 2)))
    return np.round(y)


COUNTS = _peaks(TWO_THETA, 1.0)
COUNTS_2 = _peaks(TWO_THETA_2 - 10.0, 0.5)
#: Bruker's Cu values (BRML and RAW) and Rigaku's (RAS, RASX).
WAVELENGTHS = {"bruker": (1.5406, 1.54439, 1.39222, 0.5), "rigaku": (1.540593, 1.544414, 1.392246)}
#: The absorber/attenuator factor written at the points where COUNTS exceeds ABSORBER_ABOVE (.brml scan 1, .ras).
ABSORBER, ABSORBER_ABOVE = 8.3, 1000
#: The background-subtracted intensities of the GSAS ESD file and their sigma.
SUBTRACTED = COUNTS - 130.0
SUBTRACTED_SIGMA = np.round(np.sqrt(COUNTS + 130.0), 2)
SYNCHROTRON_WAVELENGTH = 0.413529
TIME_PER_STEP = 0.4


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 19, 14, 24, 14))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


# --- Bruker BRML -------------------------------------------------------------------------------------------------

_XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'


def _brml_container(n_raw: int) -> bytes:
    refs = "".join(f"    <string>Experiment0/RawData{k}.xml</string>\n" for k in range(n_raw))
    return f"""<?xml version="1.0"?>
<DataContainer {_XSI} RawDataLength="{n_raw}">
  <CreatingVersion>7.5.2.0</CreatingVersion>
  <Nodes />
  <RawDataReferenceList>
{refs}  </RawDataReferenceList>
  <ExperimentInfo xsi:type="XrdExperimentInfoData" LogicName="" VisibleName="">
    <ApplicationType>PowderDiffraction</ApplicationType>
    <InstrumentDescription>
      <InstrumentName>Test laboratory</InstrumentName>
      <DeviceTypeDesc>Bruker AXS D8 with DAVINCI Diffractometer</DeviceTypeDesc>
    </InstrumentDescription>
  </ExperimentInfo>
  <MeasurementInfo UserName="Test user" Site="" Comment="" SampleName="LPSCl synthetic" ScriptName="" />
  <TotalMeasurementTime Unit="s" Value="610" />
</DataContainer>
""".encode()


def _brml_raw(x: np.ndarray, counts: np.ndarray, factors: np.ndarray, channel_cut: bool) -> bytes:
    """One RawData<k>.xml: time, absorber factor, 2theta, theta and counts per <Datum>, the stored counts being the
    raw counts multiplied by the factor (as DIFFRAC.SUITE stores them)."""
    effective = TIME_PER_STEP * 192
    step = float(x[1] - x[0])
    rows = "".join(f"      <Datum>{effective:g},{f:g},{a:.4f},{a / 2:.4f},{c:g}</Datum>\n"
                   for a, c, f in zip(x, counts, factors))
    mono = ("""            <InfoData xsi:type="AnyOpticInfoData" baseType="OpticInfoData" LogicName="Ge022ACC"
                      VisibleName="Ge022ACC" BankPosition="6">
              <Deflection Unit="°" Value="0" />
              <BeringInfo ObjectPath="/Device/Goniometer/PrimaryTrack/Ge022ACC" ClassPath="/Component/Optic/ChannelCut/B2" />
            </InfoData>
""" if channel_cut else "")
    ka1, ka2, kbeta, ratio = WAVELENGTHS["bruker"]
    return f"""<?xml version="1.0"?>
<RawData {_XSI} PlannedTimePerStep="0">
  <MeasurementStatus>Measured</MeasurementStatus>
  <TimeStampStarted>2024-05-19T14:24:14.9928324-06:00</TimeStampStarted>
  <TimeStampFinished>2024-05-19T14:34:33.8248398-06:00</TimeStampFinished>
  <DataRoutes>
    <DataRoute RouteFlag="Measured" ProcLevel="0" Description="Originally measured data.">
      <ScanInformation IsMultiScan="false" ScanName="LockedCoupled" VisibleName="Coupled TwoTheta/Theta">
        <MeasurementPoints>{len(x)}</MeasurementPoints>
        <TimePerStep>{TIME_PER_STEP:g}</TimePerStep>
        <TimePerStepEffective>{effective:g}</TimePerStepEffective>
        <ScanMode>PsdFastScan</ScanMode>
        <ScanAxes>
          <ScanAxisInfo AxisId="TwoTheta" AxisName="TwoTheta" VisibleName="2Theta" Unit="°">
            <Start>{x[0]:g}</Start>
            <Stop>{x[-1]:g}</Stop>
            <Increment>{step:g}</Increment>
          </ScanAxisInfo>
          <ScanAxisInfo AxisId="Theta" AxisName="Theta" VisibleName="Theta" Unit="°">
            <Start>{x[0] / 2:g}</Start>
            <Stop>{x[-1] / 2:g}</Stop>
            <Increment>{step / 2:g}</Increment>
          </ScanAxisInfo>
        </ScanAxes>
      </ScanInformation>
{rows}      <DataViews>
        <RawDataView xsi:type="FixedRawDataView" Start="0" Length="1" LogicName="MeasuredTime" Unit="s" />
        <RawDataView xsi:type="FixedRawDataView" Start="1" Length="1" LogicName="AbsorptionFactor" Unit="" />
        <RawDataView xsi:type="VaryingRawDataView" Start="2" Length="2">
          <Varying xsi:type="VaryingStepData2D" LogicName="ScanAxes" VectorLength="2">
            <FieldDefinitions FieldName="TwoTheta" AxisId="TwoTheta"><VisibleName>2Theta</VisibleName></FieldDefinitions>
            <FieldDefinitions FieldName="Theta" AxisId="Theta"><VisibleName>Theta</VisibleName></FieldDefinitions>
            <BlankingValue>-9999</BlankingValue>
          </Varying>
        </RawDataView>
        <RawDataView xsi:type="RecordedRawDataView" Start="4" Length="1" MeasuredDataIndex="0">
          <Recording VisibleName="LYNXEYE_XE_T (1D mode): PSD counter" LogicName="ScanCounter" Category="Count">
            <Unit Prefix="None" Base="Counts" />
            <Size><X>1</X><Y>1</Y></Size>
            <BlankingValue>-9999</BlankingValue>
          </Recording>
        </RawDataView>
      </DataViews>
    </DataRoute>
  </DataRoutes>
  <FixedInformation>
    <Instrument xsi:type="GoniometerInfo">
      <PrimaryTracks>
        <TrackInfoData LogicName="PrimaryTrack" VisibleName="PrimaryTrack">
          <Radius Unit="mm" Value="280" />
          <MountedOptics>
            <InfoData xsi:type="TubeMountInfoData" baseType="OpticInfoData" LogicName="TubeMount" VisibleName="TubeMount" BankPosition="1">
              <Tube LogicName="TubeKFLCu2KC_2" VisibleName="TubeKFLCu2KC_2">
                <WaveLengthAlpha1 Unit="Å" Value="{ka1:g}" />
                <WaveLengthAlpha2 Unit="Å" Value="{ka2:g}" />
                <WaveLengthAverage Unit="Å" Value="1.5418" />
                <WaveLengthBeta Unit="Å" Value="{kbeta:g}" />
                <WaveLengthRatio Unit="" Value="{ratio:g}" />
                <TubeMaterial>Cu</TubeMaterial>
                <Generator LogicName="TubeKFLCu2KC_2" VisibleName="Generator">
                  <Voltage Unit="kV" Value="40" />
                  <Current Unit="mA" Value="40" />
                </Generator>
              </Tube>
            </InfoData>
{mono}            <InfoData xsi:type="SollerInfoData" baseType="OpticInfoData" LogicName="AxialSoller_25_1"
                      VisibleName="Axial Soller 2.5 [°]" BankPosition="4" />
          </MountedOptics>
        </TrackInfoData>
      </PrimaryTracks>
      <SecondaryTracks>
        <TrackInfoData LogicName="SecondaryTrack" VisibleName="SecondaryTrack">
          <Radius Unit="mm" Value="280" />
          <MountedOptics>
            <InfoData xsi:type="OpticPlaceHolderInfoData" baseType="OpticInfoData" LogicName="LYNXEYE_XE_T"
                      VisibleName="LYNXEYE_XE_T" BankPosition="18" />
          </MountedOptics>
        </TrackInfoData>
      </SecondaryTracks>
    </Instrument>
  </FixedInformation>
</RawData>
""".encode()


_EXPERIMENT_COLLECTION = b"""<?xml version="1.0"?>
<ExperimentCollection><Experiments><string>Experiment0</string></Experiments></ExperimentCollection>
"""


def pattern_brml() -> bytes:
    """One scan, no absorber, no monochromator: K-alpha1 and K-alpha2."""
    return _zip({"experimentCollection.xml": _EXPERIMENT_COLLECTION, "Experiment0/DataContainer.xml": _brml_container(1),
                 "Experiment0/RawData0.xml": _brml_raw(TWO_THETA, COUNTS, np.ones(N), channel_cut=False)})


def absorber_factors(counts: np.ndarray) -> np.ndarray:
    return np.where(counts > ABSORBER_ABOVE, ABSORBER, 1.0)


def pattern_2scans_brml() -> bytes:
    """Two raw-data members; the second (scan 1) has a Ge(022) channel-cut monochromator and an absorber of factor
    8.3 at the peak. DIFFRAC.SUITE stores counts already multiplied by the factor, so the stored counts are COUNTS
    (the detector saw COUNTS / 8.3 there)."""
    factors = absorber_factors(COUNTS)
    return _zip({"experimentCollection.xml": _EXPERIMENT_COLLECTION, "Experiment0/DataContainer.xml": _brml_container(2),
                 "Experiment0/RawData0.xml": _brml_raw(TWO_THETA_2, COUNTS_2, np.ones(N), channel_cut=False),
                 "Experiment0/RawData1.xml": _brml_raw(TWO_THETA, COUNTS, factors, channel_cut=True)})


# --- Bruker RAW ----------------------------------------------------------------------------------------------------


def _put(buffer: bytearray, offset: int, fmt: str, *values) -> None:
    struct.pack_into(fmt, buffer, offset, *values)


def _text(buffer: bytearray, offset: int, size: int, text: str) -> None:
    data = text.encode("latin-1")[:size]
    buffer[offset:offset + len(data)] = data


def pattern_v3_raw() -> bytes:
    """RAW1.01 (DIFFRACplus): the 712-byte file header, two ranges of 304-byte headers with a 40-byte supplementary
    header each (as a real file has), float32 counts."""
    return raw_v3([(float(TWO_THETA[0]), 0.05, COUNTS), (float(TWO_THETA_2[0]), 0.05, COUNTS_2)])


def raw_v3(ranges: list[tuple[float, float, np.ndarray]]) -> bytes:
    """A RAW1.01 file of ranges (start 2theta, step, counts) with Bruker's Cu wavelengths (also used by the tests
    to write a refinement's pattern as a .raw)."""
    header = bytearray(712)
    header[:8] = b"RAW1.01\x00"
    _put(header, 8, "<II", 1, len(ranges))  # status done, number of ranges
    _text(header, 16, 10, "05/19/24")
    _text(header, 26, 10, "14:24:14")
    _text(header, 36, 72, "Test user")
    _text(header, 108, 218, "Test laboratory")
    _text(header, 326, 60, "LPSCl synthetic")
    _put(header, 548, "<IIII", 21, 9999, 0, 0)  # goniometer, stage, loader, controller codes
    _put(header, 564, "<fff", 217.5, 1.0, 1.0)  # radius, fixed divergence and sample slits
    _put(header, 576, "<II", 2, 0)  # primary Soller, primary monochromator (none)
    _text(header, 608, 4, "Cu")
    ka1, ka2, kbeta, ratio = WAVELENGTHS["bruker"]
    _put(header, 616, "<5d", 1.54184, ka1, ka2, kbeta, ratio)
    _text(header, 656, 4, "A")
    out = bytes(header)
    for start, step, counts in ranges:
        rng = bytearray(304)
        _put(rng, 0, "<II", 304, len(counts))
        _put(rng, 8, "<dd", start / 2, start)
        _put(rng, 100, "<fff", 727.0, 80.0, 0.4)  # detector high voltage, gain, discriminator
        _put(rng, 176, "<d", step)
        _put(rng, 192, "<fI", TIME_PER_STEP, 0)  # time per step, scan type 0 (locked coupled)
        _put(rng, 224, "<II", 40, 40)
        _put(rng, 240, "<d", ka1)
        _put(rng, 248, "<III", 0, 4, 40)  # no varying parameters, 4-byte records, 40 supplementary bytes
        out += bytes(rng) + bytes(40) + np.asarray(counts, dtype="<f4").tobytes()
    return out


def _record(kind: int, body: bytes) -> bytes:
    return struct.pack("<II", kind, 8 + len(body)) + body


def _text_record(name: str, value: str) -> bytes:
    return _record(10, bytes(4) + name.encode().ljust(24, b"\x00") + value.encode())


def _drive(name: str, flag: int, position: float) -> bytes:
    body = bytearray(84)
    _put(body, 0, "<I", flag)
    _text(body, 4, 24, name)
    _put(body, 44, "<I", 1)
    _put(body, 48, "<d", position)
    return _record(50, bytes(body))


def pattern_v4_raw() -> bytes:
    """RAW4.00 (DIFFRAC.SUITE): the 61-byte header, text records, the tube record (kind 30), one locked-coupled
    range whose drive records mark 2Theta as the scanned drive, 8-byte data records (count, then a second value)."""
    head = bytearray(61)
    head[:8] = b"RAW4.00\x00"
    head[8:12] = b"\xef\xff\x00\x00"
    _text(head, 12, 12, "05/19/2024")
    _text(head, 24, 10, "14:24:14")
    out = bytes(head)
    for name, value in (("USER", "Test user"), ("SAMPLEID", "LPSCl synthetic"), ("COMMENT", ""), ("CREATOR", "make_files.py")):
        out += _text_record(name, value)
    tube = bytearray(128)
    ka1, ka2, kbeta, ratio = WAVELENGTHS["bruker"]
    _put(tube, 64, "<5d", 1.5418, ka1, ka2, kbeta, ratio)  # record offsets +72..+104
    _text(tube, 108, 4, "Cu")  # +116
    out += _record(30, bytes(tube))
    drives = _record(110, bytes(24)) + _drive("2Theta", 2, float(TWO_THETA[0])) + _drive("Theta", 1, float(TWO_THETA[0] / 2))
    rng = bytearray(160)
    _put(rng, 0, "<III", 0, N, N)
    _put(rng, 12, "<I", 2)
    _text(rng, 32, 24, "Locked Coupled")
    _put(rng, 72, "<ddI", float(TWO_THETA[0]), 0.05, N)
    _put(rng, 92, "<f", TIME_PER_STEP * 192)
    _put(rng, 100, "<ff", 40.0, 40.0)
    _put(rng, 112, "<d", 1.5418)
    _put(rng, 136, "<II", 8, len(drives))
    records = np.zeros((N, 2), dtype="<f4")
    records[:, 0] = COUNTS
    records[:, 1].view("<u4")[:] = 1
    return out + bytes(rng) + drives + records.tobytes()


# --- Rigaku RAS and RASX ---------------------------------------------------------------------------------------


def _ras_header(x: np.ndarray, wave_type: str, comment: str) -> list[str]:
    ka1, ka2, kbeta = WAVELENGTHS["rigaku"]
    return [
        "*RAS_HEADER_START", f'*FILE_COMMENT "{comment}"', '*FILE_OPERATOR "Test user"', '*FILE_SAMPLE "LPSCl synthetic"',
        '*FILE_SYSTEM_NAME "SmartLab"', '*FILE_TYPE "RAS_RAW"', '*HW_COUNTER_SELECT_NAME "D/teX Ultra250"',
        '*HW_XG_CURRENT_UNIT "mA"', '*HW_XG_TARGET_NAME "Cu"', '*HW_XG_VOLTAGE_UNIT "kV"',
        f'*HW_XG_WAVE_LENGTH_ALPHA1 "{ka1}"', f'*HW_XG_WAVE_LENGTH_ALPHA2 "{ka2}"', f'*HW_XG_WAVE_LENGTH_BETA "{kbeta}"',
        '*HW_XG_WAVE_LENGTH_UNIT "Angstrom"', '*MEAS_COND_XG_CURRENT "30"', '*MEAS_COND_XG_VOLTAGE "40"',
        f'*MEAS_COND_XG_WAVE_TYPE "{wave_type}"', f'*MEAS_DATA_COUNT "{len(x)}"', '*MEAS_SCAN_AXIS_X "TwoThetaTheta"',
        '*MEAS_SCAN_MODE "CONTINUOUS"', '*MEAS_SCAN_SPEED "8.0000"', '*MEAS_SCAN_SPEED_UNIT "deg/min"',
        f'*MEAS_SCAN_START "{x[0]:.4f}"', '*MEAS_SCAN_START_TIME "05/19/2024 14:24:14"', '*MEAS_SCAN_STEP "0.0500"',
        f'*MEAS_SCAN_STOP "{x[-1]:.4f}"', '*MEAS_SCAN_UNIT_X "deg"', '*MEAS_SCAN_UNIT_Y "counts"', "*RAS_HEADER_END",
    ]


def attenuated_counts(counts: np.ndarray) -> np.ndarray:
    """The counts a RAS file stores behind an attenuator of factor ABSORBER: COUNTS / factor to 4 decimals."""
    return np.round(counts / absorber_factors(counts), 4)


def pattern_ras() -> bytes:
    """Two scans, CR LF, Shift-JIS (a Japanese comment); scan 0 stores attenuated counts with their factors."""
    lines = ["*RAS_DATA_START"]
    factors = absorber_factors(COUNTS)
    lines += _ras_header(TWO_THETA, "Ka", "テスト試料")
    lines += ["*RAS_INT_START"] + [f"{a:.4f} {c:.4f} {f:.4f}" for a, c, f in zip(TWO_THETA, attenuated_counts(COUNTS), factors)]
    lines += ["*RAS_INT_END"]
    lines += _ras_header(TWO_THETA_2, "Ka", "second scan")
    lines += ["*RAS_INT_START"] + [f"{a:.4f} {c:.4f} 1.0000" for a, c in zip(TWO_THETA_2, COUNTS_2)] + ["*RAS_INT_END", "*RAS_DATA_END"]
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


def pattern_rasx() -> bytes:
    """One profile: a tab-separated Profile0.txt with a byte-order mark and CR LF, MesurementConditions0.xml (sic)
    saying wave type Ka1, root.xml."""
    ka1, ka2, kbeta = WAVELENGTHS["rigaku"]
    profile = "\ufeff" + "".join(f"{a:.4f}\t{c:g}\t1\r\n" for a, c in zip(TWO_THETA, COUNTS))
    conditions = f"""<?xml version="1.0" encoding="utf-8"?>
<MeasurementConditions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <GeneralInformation>
    <Operator>Test user</Operator>
    <Comment />
    <SampleName>LPSCl synthetic</SampleName>
    <SystemName>SmartLabXE</SystemName>
  </GeneralInformation>
  <HWConfigurations>
    <Categories>
      <Category Name="IncidentMonochromator" SelectedUnit="Ge(220)x2" />
      <Category Name="Detector" SelectedUnit="HyPix3000(H)" />
    </Categories>
    <XrayGenerator>
      <TargetName>Cu</TargetName>
      <Voltage>40</Voltage>
      <Current>30</Current>
      <WaveType>Ka1</WaveType>
      <WavelengthKbeta>{kbeta}</WavelengthKbeta>
      <WavelengthKalpha1>{ka1}</WavelengthKalpha1>
      <WavelengthKalpha2>{ka2}</WavelengthKalpha2>
    </XrayGenerator>
  </HWConfigurations>
  <ScanInformation>
    <AxisName>TwoTheta</AxisName>
    <Mode>CONTINUOUS</Mode>
    <Start>{TWO_THETA[0]:.4f}</Start>
    <StartTime>2024-05-19T14:24:14Z</StartTime>
    <Stop>{TWO_THETA[-1]:.4f}</Stop>
    <Step>0.0500</Step>
    <Speed>1.0000</Speed>
    <SpeedUnit>deg/min</SpeedUnit>
    <PositionUnit>deg</PositionUnit>
    <IntensityUnit>counts</IntensityUnit>
    <DataCount>{N}</DataCount>
  </ScanInformation>
</MeasurementConditions>
"""
    root = """<?xml version="1.0" encoding="utf-8"?>
<Root Version="1.1.0.0">
  <Data0 Type="Profile">
    <ContentHashList Name="Profile0.txt" ContentHash="" />
    <ContentHashList Name="MesurementConditions0.xml" ContentHash="" />
  </Data0>
</Root>
"""
    return _zip({"Data0/Profile0.txt": profile.encode("utf-8"), "Data0/MesurementConditions0.xml": ("\ufeff" + conditions).encode("utf-8"),
                 "root.xml": root.encode("utf-8")})


# --- GSAS --------------------------------------------------------------------------------------------------------


def _bank(n_points: int, per_line: int, start: float, step: float, kind: str) -> str:
    records = -(-n_points // per_line)
    return f"BANK 1 {n_points} {records} CONST {start * 100:g} {step * 100:g} 0 0 {kind}".ljust(80)


def pattern_std_gsa() -> bytes:
    """GSAS STD: a title line, the BANK line, ten 8-character fields a line (counter number blank = 1), the last
    record padded with zeros, CR LF, as GSAS-II's tutorial files."""
    lines = ["LPSCl synthetic, Cu K-alpha".ljust(80), _bank(N, 10, 20.0, 0.05, "STD")]
    fields = [f"{c:8.0f}" for c in COUNTS] + [f"{0:8d}"] * (-N % 10)
    lines += ["".join(fields[i:i + 10]) for i in range(0, len(fields), 10)]
    return ("\r\n".join(lines) + "\r\n").encode()


def pattern_esd_gsa() -> bytes:
    """GSAS ESD: five (intensity, sigma) pairs of 8 characters a line; background-subtracted intensities, some
    negative, with their sigma."""
    lines = ["LPSCl synthetic, background subtracted".ljust(80), _bank(N, 5, 20.0, 0.05, "ESD")]
    pairs = [f"{y:8.1f}{s:8.2f}" for y, s in zip(SUBTRACTED, SUBTRACTED_SIGMA)]
    lines += ["".join(pairs[i:i + 5]) for i in range(0, len(pairs), 5)]
    return ("\n".join(lines) + "\n").encode()


def pattern_fxye() -> bytes:
    """FXYE as APS 11-BM writes it: a title, '#' comments with the calibrated wavelength, the BANK line, then
    2theta (centidegrees), intensity and sigma a line. The last point has sigma 0 (no weight in GSAS)."""
    lines = ["From synthetic.mda processed by make_files.py", "# Sample Comment =        LPSCl synthetic",
             f"# Calibrated wavelength = {SYNCHROTRON_WAVELENGTH}", _bank(N, 1, 20.0, 0.05, "FXYE").rstrip()]
    sigma = np.round(np.sqrt(COUNTS), 6)
    sigma[-1] = 0.0
    lines += [f" {100 * a:.6f} {c:.6f} {s:.6f} " for a, c, s in zip(TWO_THETA, COUNTS, sigma)]
    return ("\n".join(lines) + "\n").encode()


FILES: dict[str, Callable[[], bytes]] = {
    "pattern.brml": pattern_brml, "pattern_2scans.brml": pattern_2scans_brml, "pattern_v3.raw": pattern_v3_raw,
    "pattern_v4.raw": pattern_v4_raw, "pattern.ras": pattern_ras, "pattern.rasx": pattern_rasx,
    "pattern_std.gsa": pattern_std_gsa, "pattern_esd.gsa": pattern_esd_gsa, "pattern.fxye": pattern_fxye,
}


def same_content(name: str, stored: bytes, made: bytes) -> bool:
    """Equal bytes, or for a ZIP archive equal members (deflate output may differ between zlib builds)."""
    if stored == made:
        return True
    if not name.endswith((".brml", ".rasx")):
        return False
    try:
        a, b = zipfile.ZipFile(io.BytesIO(stored)), zipfile.ZipFile(io.BytesIO(made))
        return a.namelist() == b.namelist() and all(a.read(n) == b.read(n) for n in a.namelist())
    except zipfile.BadZipFile:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored files; write nothing")
    args = parser.parse_args(argv)
    different = []
    for name, make in FILES.items():
        content = make()
        path = HERE / name
        if args.check:
            if not path.is_file() or not same_content(name, path.read_bytes(), content):
                different.append(name)
        else:
            path.write_bytes(content)
    if different:
        print("differ from make_files.py: " + ", ".join(different), file=sys.stderr)
        return 1
    print(f"{len(FILES)} files {'match' if args.check else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
