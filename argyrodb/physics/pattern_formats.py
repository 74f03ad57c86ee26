"""Instrument formats of :func:`argyrodb.physics.pattern_data.read_powder_data`: Bruker BRML and RAW, Rigaku RAS and
RASX, GSAS raw files. Each reader returns a :class:`~argyrodb.physics.pattern_data.PowderData` whose
``metadata["wavelength"]`` uses the XRDML reader's keys (``anode``, ``kalpha1_angstrom``, ``kalpha2_angstrom``,
``kbeta_angstrom``, ``ratio_kalpha2_kalpha1``, ``incident_monochromator``, plus ``kalpha1_only`` and, for a single
line, ``wavelength_angstrom``), and whose ``metadata["notes"]`` says what was assumed or left out.

* **BRML** (Bruker DIFFRAC.SUITE, a ZIP archive of XML). ``Experiment0/DataContainer.xml`` lists the raw-data
  members (``RawDataReferenceList``); every ``DataRoute`` with ``RouteFlag="Measured"`` of every member is a
  scan. The columns of its ``<Datum>`` rows are named by ``DataViews``: the varying view whose field is
  ``TwoTheta`` gives 2theta, the recorded view in ``Counts`` the counts, the fixed views ``MeasuredTime`` (the
  counting time of the point; a position-sensitive detector's effective time) and ``AbsorptionFactor``. The
  stored counts are already multiplied by the absorber factor (a real file's counts run smoothly through a
  change of factor, and are fractional where it is 8.3), so they are kept and sigma = factor * sqrt(counts /
  factor) is given when a factor differs from 1. The tube (``WaveLengthAlpha1``/``Alpha2``/``Beta``/``Ratio``,
  ``TubeMaterial``) gives the wavelength; an incident-beam optic that is a monochromator (a channel-cut or
  Johansson crystal, e.g. ``Ge022ACC``) makes the radiation K-alpha1 only. A scan in which 2theta is not a
  varying axis (a rocking curve) is refused.
* **RAW** (Bruker binary). ``RAW1.01`` ("version 3", DIFFRACplus): a 712-byte file header (range count at
  byte 12; anode at 608; float64 K-alpha average, K-alpha1, K-alpha2, K-beta and K-alpha2/K-alpha1 ratio at
  616-648), then per range a header (its size at +0, points +4, float64 start 2theta +16, step +176, float32
  time per step +192, scan type +196, per-point record size +252, supplementary header size +256) and float32
  counts. ``RAW4.00`` ("version 4", DIFFRAC.SUITE): after a 61-byte header, records of u32 kind and u32
  length (kind 10: a named text value; kind 30: the tube, float64 wavelengths at +72..+104, anode at +116),
  then ranges (kind 0 or 160): a 160-byte header (scan type text +32, float64 start +72 and step +80, u32
  points +88, float32 time per step +92, record size +136, drive-record bytes +140), drive records (kind 50:
  name +12, position +56) and the records, whose first float32 is the count. Layouts as in xylib's
  ``bruker_raw.cpp`` (LGPL; read as documentation) and geddes' notes (MIT); checked on real files against
  xylib, geddes and openreadout. A K-alpha2 wavelength or ratio of 0 (written when a monochromator passes
  K-alpha1 only) leaves K-alpha2 out. ``RAW `` and ``RAW2`` (versions 1 and 2) are refused.
* **RAS** (Rigaku text; UTF-8 or Shift-JIS): ``*RAS_HEADER_START`` ... ``*KEY "value"`` ... ``*RAS_HEADER_END``,
  ``*RAS_INT_START``, rows of 2theta, intensity and attenuation factor, ``*RAS_INT_END``; one scan per header.
  The intensity is multiplied by the factor (sigma = factor * sqrt(counts) when a factor differs from 1).
  ``MEAS_SCAN_UNIT_Y`` says counts or cps; the counting time is the step over ``MEAS_SCAN_SPEED``;
  ``HW_XG_TARGET_NAME`` and ``HW_XG_WAVE_LENGTH_ALPHA1``/``ALPHA2``/``BETA`` give the wavelength (RAS writes no
  K-alpha2/K-alpha1 ratio: 0.5 is used, with a note) and ``MEAS_COND_XG_WAVE_TYPE`` ``Ka1`` means K-alpha1
  only. **RASX** (a ZIP archive): ``Data<k>/Profile<k>.txt`` (the same rows, tab-separated) with
  ``Data<k>/MesurementConditions<k>.xml`` (the same keys as XML elements), scans in the order of k.
* **GSAS** raw files: a title line, ``#`` comments, then per bank ``BANK n nchan nrec CONS start step 0 0 TYPE``
  with 2theta in centidegrees; STD records (ten 8-character fields: a 2-character counter number and a count;
  sigma = sqrt(count / counters) when a field names more than one counter), ESD records (five pairs of count and
  sigma) or FXYE lines (2theta, intensity, sigma). A point whose sigma is 0 has no weight in GSAS and is left
  out with a note. Other binnings (time of flight: ``TIME_MAP``, ``SLOG``, ``RALF``) and ALT records are
  refused. A GSAS file states no wavelength except in a comment such as APS 11-BM's ``# Calibrated wavelength =
  0.413529``, read as a single line.

Several scans (BRML routes, RAW ranges, RAS/RASX scans, GSAS banks): the first is read with a note, or ``scan=``.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import read_bytes_file
from .powder_data import MAX_BYTES, MAX_POINTS, MIN_POINTS, PowderData, negative_note, wavelength_text

#: Most members a BRML/RASX archive may have, and most bytes read from one member once uncompressed.
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = MAX_BYTES
#: Most ranges, banks or scans a file may declare.
MAX_SCANS = 10_000
#: The K-alpha2/K-alpha1 ratio used when a file gives K-alpha2 but no ratio (RAS, RASX).
DEFAULT_KALPHA2_RATIO = 0.5

_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def read(path: Path, fmt: str, scan: int | None) -> PowderData:
    """Read ``path`` in format ``fmt`` ('brml', 'raw', 'ras', 'rasx' or 'gsas'); ``scan`` as in read_powder_data.
    Arithmetic that overflows (a factor of 1e308) gives infinities, which PowderData's checks refuse by name."""
    with np.errstate(all="ignore"):
        return _read(path, fmt, scan)


def _read(path: Path, fmt: str, scan: int | None) -> PowderData:
    if fmt == "brml":
        return _read_brml(path, scan)
    if fmt == "rasx":
        return _read_rasx(path, scan)
    data = read_bytes_file(path, MAX_BYTES)
    if fmt == "raw":
        if data[:4] in (b"RAW1", b"RAW4", b"RAW ", b"RAW2"):
            return _read_bruker_raw(path, data, scan)
        if _looks_like_gsas(data):
            return _read_gsas(path, _decode(path, data), scan)
        raise InputError(path, f"neither a Bruker RAW file (it starts with {data[:8]!r}, not RAW1.01 or RAW4.00) "
                               "nor a GSAS raw file (no BANK line)")
    text = _decode(path, data)
    if fmt == "ras":
        return _read_ras(path, text, scan)
    return _read_gsas(path, text, scan)


# --------------------------------------------------------------------------- shared


def _decode(path: Path, data: bytes) -> str:
    """Text of a file: UTF-8 (a byte-order mark dropped), else Shift-JIS (Rigaku's Japanese Windows), else refused."""
    if b"\x00" in data[:4096]:
        raise InputError(path, "a binary file, not text (NUL bytes)")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "neither UTF-8 nor Shift-JIS text")


def _pick(source: str, n_scans: int, scan: int | None, what: str = "scans") -> tuple[int, list[str]]:
    """The scan index to read and the note saying so (``ParameterError`` for one that does not exist)."""
    index = 0 if scan is None else scan
    if not 0 <= index < n_scans:
        raise ParameterError("scan", f"scan {index} does not exist: {source} holds {n_scans} {what}, numbered from 0")
    notes = [f"the file holds {n_scans} {what}; {what[:-1]} {index} was read (scan= selects another)"] if n_scans > 1 else []
    return index, notes


def _number(text: str | None, source: str, what: str) -> float | None:
    """A finite number from a header value (None when empty)."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text.strip())
    except ValueError:
        raise InputError(source, f"{what} is not a number: {text.strip()[:40]!r}") from None
    if not math.isfinite(value):
        raise InputError(source, f"{what} is not finite")
    return value


def _wavelength(anode: str | None, ka1, ka2, kbeta, ratio, source: str) -> dict:
    """A ``metadata["wavelength"]`` dict; zero or negative wavelengths (unset fields) are left out, a K-alpha1
    outside 0.1-3 A refused."""
    info: dict = {}
    if anode:
        info["anode"] = anode.strip().capitalize()
    for key, value in (("kalpha1_angstrom", ka1), ("kalpha2_angstrom", ka2), ("kbeta_angstrom", kbeta)):
        if value is not None and math.isfinite(value) and value > 0:
            info[key] = float(value)
    if ratio is not None and math.isfinite(ratio) and ratio >= 0:
        info["ratio_kalpha2_kalpha1"] = float(ratio)
    ka1_value = info.get("kalpha1_angstrom")
    if ka1_value is not None and not 0.1 <= ka1_value <= 3.0:
        raise InputError(source, f"K-alpha1 wavelength {ka1_value:g} A is not an X-ray tube's (0.1-3 A)")
    return info


def _counting_time(values: np.ndarray | float | None) -> float | np.ndarray | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        return float(array) if array > 0 else None
    if array.size and np.all(array == array[0]):
        return float(array[0]) if array[0] > 0 else None
    return array if np.all(array > 0) else None


def _make(path: Path, x, y, sigma, info: dict, metadata: dict, kind: str) -> PowderData:
    metadata.setdefault("notes", [])
    metadata["wavelength"] = info
    if sigma is not None and kind == "intensity":
        note = negative_note(np.asarray(x, float), np.asarray(y, float))
        if note:
            metadata["notes"].append(note)
    return PowderData(np.asarray(x, float), np.asarray(y, float), None if sigma is None else np.asarray(sigma, float),
                      str(path), wavelength_text(info), metadata, kind=kind)


def _check_size(source: str, n: int) -> None:
    if n < MIN_POINTS:
        raise InputError(source, f"only {n} data points (need at least {MIN_POINTS})")
    if n > MAX_POINTS:
        raise InputError(source, f"{n} data points, more than {MAX_POINTS}")


# --------------------------------------------------------------------------- ZIP archives (BRML, RASX)


def _open_zip(path: Path, what: str) -> zipfile.ZipFile:
    data = read_bytes_file(path, MAX_BYTES)
    if not data.startswith(b"PK\x03\x04"):
        raise InputError(path, f"not a ZIP archive (a {what} file is one): it starts with {data[:8]!r}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError) as exc:
        raise InputError(path, f"damaged or truncated ZIP archive ({exc})") from None
    if len(names) > MAX_MEMBERS:
        raise InputError(path, f"{len(names)} members in the archive, more than {MAX_MEMBERS}")
    return archive


def _member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise InputError(path, f"the archive has no member {name}") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise InputError(path, f"{name} is {info.file_size} bytes once unpacked, over the {MAX_MEMBER_BYTES}-byte limit")
    try:
        with archive.open(info) as handle:
            data = handle.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
        raise InputError(path, f"cannot unpack {name} ({exc})") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise InputError(path, f"{name} unpacks to more than {MAX_MEMBER_BYTES} bytes")
    return data


def _xml(data: bytes, path: Path, name: str):
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise InputError(path, f"{name}: malformed XML ({str(exc).split(':')[0]}"
                               f"{f', line {line}, column {column}' if line else ''})") from None
    except (LookupError, ValueError) as exc:  # an unknown encoding declared, e.g. <?xml encoding="utf-99"?>
        raise InputError(path, f"{name}: unreadable XML ({exc})") from None


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _find(element, *names: str):
    """The first descendant path ``names`` (local names), or None."""
    for name in names:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _all(element, name: str) -> list:
    return [] if element is None else [e for e in element.iter() if _local(e.tag) == name]


def _text(element, *names: str) -> str | None:
    found = _find(element, *names)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _numbered(name: str) -> tuple:
    """Sort key ordering Data2 before Data10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


# --------------------------------------------------------------------------- BRML


def _brml_routes(root) -> list:
    routes = _all(root, "DataRoute")
    measured = [r for r in routes if r.get("RouteFlag") == "Measured"]
    return measured if measured else [r for r in routes if r.get("RouteFlag") is None]


def _read_brml(path: Path, scan: int | None) -> PowderData:
    source = str(path)
    archive = _open_zip(path, ".brml")
    names = archive.namelist()
    container_name = next((n for n in sorted(names, key=_numbered) if re.fullmatch(r"Experiment\d+/DataContainer\.xml", n)), None)
    container = _xml(_member(archive, container_name, path), path, container_name) if container_name else None
    refs = [s.text.strip() for s in _all(_find(container, "RawDataReferenceList"), "string") if s.text and s.text.strip()]
    if not refs:
        refs = sorted((n for n in names if re.fullmatch(r"Experiment\d+/RawData\d+\.xml", n)), key=_numbered)
    if not refs:
        raise InputError(path, "no Experiment*/RawData*.xml in the archive: not a Bruker BRML file")
    if len(refs) > MAX_SCANS:
        raise InputError(path, f"{len(refs)} raw-data members, more than {MAX_SCANS}")
    counts = []
    for ref in refs:
        counts.append(len(_brml_routes(_xml(_member(archive, ref, path), path, ref))))
    n_scans = sum(counts)
    if n_scans == 0:
        raise InputError(path, f"no measured data route in {', '.join(refs[:3])}: nothing was measured")
    index, notes = _pick(source, n_scans, scan)
    member, route_index = next((ref, index - sum(counts[:i])) for i, ref in enumerate(refs) if index < sum(counts[:i + 1]))
    root = _xml(_member(archive, member, path), path, member)
    route = _brml_routes(root)[route_index]
    x, y, sigma, time, kind, meta = _brml_route(route, path, member, notes)
    status = _text(root, "MeasurementStatus")
    if status and status != "Measured":
        notes.append(f"{member}: measurement status {status!r}: the data may be partial")
    info, optics = _brml_wavelength(root, source)
    metadata = {"format": "brml", "member": member, "scan_index": index, "n_scans": n_scans, "counting_time_s": time,
                "notes": notes, "start_time": _text(root, "TimeStampStarted"), "optics": optics, **meta}
    if container is not None:
        measurement = _find(container, "MeasurementInfo")
        if measurement is not None:
            metadata["sample_name"] = measurement.get("SampleName") or None
            metadata["user"] = measurement.get("UserName") or None
        instrument = _find(container, "ExperimentInfo", "InstrumentDescription")
        metadata["instrument"] = " ".join(filter(None, (_text(instrument, "DeviceTypeDesc"), _text(instrument, "InstrumentName")))) or None
        metadata["creating_version"] = _text(container, "CreatingVersion")
    radius = next((r.get("Value") for r in _all(_find(root, "FixedInformation"), "Radius")), None)
    metadata["goniometer_radius_mm"] = _number(radius, source, "goniometer <Radius>")
    return _make(path, x, y, sigma, info, metadata, kind)


def _brml_route(route, path: Path, member: str, notes: list[str]):
    source = str(path)
    info = _find(route, "ScanInformation")
    views = _all(_find(route, "DataViews"), "RawDataView")
    if not views:
        raise InputError(path, f"{member}: no <DataViews>: the columns of the <Datum> rows are not named")

    def span(view) -> tuple[int, int]:
        try:
            start, length = int(view.get("Start", "")), int(view.get("Length", "1"))
        except ValueError:
            start = length = -1
        if not (0 <= start <= 10_000 and 0 < length <= 10_000):
            raise InputError(path, f"{member}: a <RawDataView> with Start {view.get('Start')!r}, Length {view.get('Length')!r}")
        return start, length

    two_theta_column = time_column = factor_column = None
    recorded = []
    for view in views:
        kind = (view.get(_XSI_TYPE) or "").split(":")[-1]
        start, length = span(view)
        if kind == "FixedRawDataView" and view.get("LogicName") == "MeasuredTime":
            time_column = start
        elif kind == "FixedRawDataView" and view.get("LogicName") == "AbsorptionFactor":
            factor_column = start
        elif kind == "VaryingRawDataView":
            fields = _all(view, "FieldDefinitions")
            for k, field in enumerate(fields):
                if "TwoTheta" in (field.get("FieldName"), field.get("AxisId")):
                    two_theta_column = start + k
        elif kind == "RecordedRawDataView":
            recording = _find(view, "Recording")
            unit = _find(recording, "Unit")
            base = unit.get("Base") if unit is not None else None
            if base in ("Counts", "CountsPerSecond", "Cps") or (recording is not None and recording.get("Category") == "Count"):
                recorded.append((start, length, base, recording))
    scan_name = info.get("VisibleName") or info.get("ScanName") if info is not None else None
    if two_theta_column is None:
        raise InputError(path, f"{member}: 2theta is not a scanned axis of this scan ({(scan_name or 'unnamed').strip()!r}): "
                               "not a powder pattern")
    if not recorded:
        raise InputError(path, f"{member}: no recorded view in counts: the <Datum> rows hold no counts")
    start, length, base, recording = recorded[0]
    if length != 1:
        raise InputError(path, f"{member}: the counts are {length} values per point (a detector frame), not one")
    if len(recorded) > 1:
        notes.append(f"{member}: {len(recorded)} recorded count channels; the first ({recording.get('LogicName')}) was read")
    kind = "counts" if base in ("Counts", None) else "counts_per_second"
    blank = _number(_text(recording, "BlankingValue"), source, "<BlankingValue>")
    needed = max(c for c in (two_theta_column, start, time_column, factor_column) if c is not None) + 1
    rows = [d for d in route if _local(d.tag) == "Datum"]
    _check_size(source, len(rows))
    table = np.empty((len(rows), needed))
    for i, datum in enumerate(rows):
        parts = (datum.text or "").split(",")
        if len(parts) < needed:
            raise InputError(path, f"{member}: <Datum> {i + 1} has {len(parts)} values where the data views name {needed}")
        try:
            table[i] = [float(p) for p in parts[:needed]]
        except ValueError:
            raise InputError(path, f"{member}: <Datum> {i + 1} holds a non-number: {(datum.text or '')[:60]!r}") from None
    if not np.all(np.isfinite(table)):
        i = int(np.argmin(np.all(np.isfinite(table), axis=1)))
        raise InputError(path, f"{member}: <Datum> {i + 1} holds a value that is not finite")
    if blank is not None:
        keep = (table[:, start] != blank) & (table[:, two_theta_column] != blank)
        if not np.all(keep):
            notes.append(f"{member}: {int((~keep).sum())} points with the blanking value {blank:g} (not measured) left out")
            table = table[keep]
            _check_size(source, len(table))
    planned = _number(_text(info, "MeasurementPoints"), source, "<MeasurementPoints>") if info is not None else None
    if planned is not None and int(planned) != len(rows):
        notes.append(f"{member}: {len(rows)} points where <MeasurementPoints> plans {int(planned)}")
    x, y = table[:, two_theta_column], table[:, start]
    sigma = None
    if factor_column is not None:
        factors = table[:, factor_column]
        if np.any(factors <= 0):
            raise InputError(path, f"{member}: an absorption factor {factors.min():g} is not positive")
        if np.any(factors != 1.0) and kind == "counts":
            sigma = factors * np.sqrt(np.maximum(y / factors, 1.0))
            notes.append(f"{member}: counts at {int((factors != 1).sum())} points were taken through an absorber "
                         f"(factors up to {factors.max():g}) and are stored multiplied by it; "
                         "sigma = factor * sqrt(counts / factor)")
    if time_column is not None:
        time = _counting_time(table[:, time_column])
    else:
        time = _counting_time(_number(_text(info, "TimePerStep"), source, "<TimePerStep>") if info is not None else None)
    meta = {"scan_name": scan_name, "scan_mode": _text(info, "ScanMode") if info is not None else None,
            "time_per_step_s": _number(_text(info, "TimePerStep"), source, "<TimePerStep>") if info is not None else None,
            "counts_channel": recording.get("LogicName") if recording is not None else None}
    return x, y, sigma, time, kind, meta


def _brml_wavelength(root, source: str) -> tuple[dict, list[str]]:
    fixed = _find(root, "FixedInformation")
    tube = next(iter(_all(fixed, "Tube")), None)
    info: dict = {}
    if tube is not None:

        def value(name: str) -> float | None:
            element = _find(tube, name)
            if element is None:
                return None
            number = _number(element.get("Value"), source, f"tube <{name}>")
            unit = (element.get("Unit") or "").strip()
            if number is not None and unit == "nm":
                number *= 10
            elif number is not None and unit not in ("Å", "A", "Angstrom", "", "\u212b"):
                raise InputError(source, f"tube <{name}> in unit {unit!r}, expected Å")
            return number

        ratio = _find(tube, "WaveLengthRatio")
        info = _wavelength(_text(tube, "TubeMaterial"), value("WaveLengthAlpha1"), value("WaveLengthAlpha2"),
                           value("WaveLengthBeta"), _number(ratio.get("Value") if ratio is not None else None, source,
                                                            "tube <WaveLengthRatio>"), source)
        generator = _find(tube, "Generator")
        for name in ("Voltage", "Current"):
            element = _find(generator, name)
            if element is not None:
                info["tube_tension" if name == "Voltage" else "tube_current"] = f"{element.get('Value')} {element.get('Unit', '')}".strip()
    optics = []
    for track_name in ("PrimaryTracks", "SecondaryTracks"):
        for optic in _all(_find(_find(fixed, "Instrument"), track_name), "InfoData"):
            name = optic.get("LogicName") or ""
            bering = _find(optic, "BeringInfo")
            described = " ".join((optic.get(_XSI_TYPE) or "", bering.get("ClassPath", "") if bering is not None else "", name))
            optics.append(f"{'incident' if track_name == 'PrimaryTracks' else 'diffracted'} {name}")
            is_mono = re.search(r"monochromator|channel ?cut|johansson", described, re.I) or re.match(r"(ge|si|quartz)[\s_(]*\d{3}", name, re.I)
            key = "incident_monochromator" if track_name == "PrimaryTracks" else "secondary_monochromator"
            if is_mono and key not in info:
                info[key] = name
    return info, optics


# --------------------------------------------------------------------------- Bruker RAW


class _Bytes:
    """Bounded little-endian reads of a binary file; a read past the end is a one-line InputError."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path = data, path

    def need(self, offset: int, size: int, what: str) -> None:
        if offset < 0 or offset + size > len(self.data):
            raise InputError(self.path, f"truncated: {what} needs bytes {offset}-{offset + size} of a {len(self.data)}-byte file")

    def unpack(self, fmt: str, offset: int, what: str):
        self.need(offset, struct.calcsize(fmt), what)
        return struct.unpack_from(fmt, self.data, offset)

    def u32(self, offset: int, what: str) -> int:
        return self.unpack("<I", offset, what)[0]

    def f64(self, offset: int, what: str) -> float:
        return self.unpack("<d", offset, what)[0]

    def f32(self, offset: int, what: str) -> float:
        return self.unpack("<f", offset, what)[0]

    def text(self, offset: int, size: int, what: str) -> str:
        self.need(offset, size, what)
        return self.data[offset:offset + size].split(b"\x00")[0].decode("latin-1").strip()


#: RAW1.01 scan types whose scanned axis is 2theta (0 locked coupled, 1 unlocked coupled, 2 detector scan, 20 the
#: PSD fast scan of DIFFRACplus), as geddes' notes and the real files read here.
_RAW3_TWO_THETA_SCANS = {0: "locked coupled", 1: "unlocked coupled", 2: "detector scan", 20: "PSD fast scan"}
_RAW4_TWO_THETA_SCANS = ("lockedcoupled", "unlockedcoupled", "detectorscan", "unlockedcoupledhrxrd", "twothetaomega")
_RAW_STATUS = {1: "done", 2: "active", 3: "aborted", 4: "interrupted"}


def _read_bruker_raw(path: Path, data: bytes, scan: int | None) -> PowderData:
    if data.startswith(b"RAW1.01"):
        return _read_raw3(path, _Bytes(data, path), scan)
    if data.startswith(b"RAW4.00"):
        return _read_raw4(path, _Bytes(data, path), scan)
    version = "1" if data[:4] == b"RAW " else "2" if data[:4] == b"RAW2" else None
    if version:
        raise InputError(path, f"Bruker RAW version {version} (DIFFRAC-AT) is not read: save it as RAW1.01 or RAW4.00 (DIFFRAC.SUITE), or as .xy")
    raise InputError(path, f"not a Bruker RAW file: it starts with {data[:8]!r}, not RAW1.01 or RAW4.00")


def _range_counts(raw: _Bytes, offset: int, points: int, record: int, what: str) -> np.ndarray:
    raw.need(offset, points * record, f"the {points} points of {what}")
    array = np.frombuffer(raw.data, dtype="<f4", count=points * (record // 4), offset=offset)
    return array.reshape(points, record // 4)[:, 0].astype(float)


def _read_raw3(path: Path, raw: _Bytes, scan: int | None) -> PowderData:
    source = str(path)
    raw.need(0, 712, "the RAW1.01 file header")
    status, n_ranges = raw.unpack("<II", 8, "the range count")
    if not 1 <= n_ranges <= MAX_SCANS:
        raise InputError(path, f"the file header declares {n_ranges} ranges")
    index, notes = _pick(source, n_ranges, scan, "ranges")
    if status != 1:
        notes.append(f"file status {_RAW_STATUS.get(status, status)!r}: the measurement may be incomplete")
    offset, chosen = 712, None
    for r in range(n_ranges):
        header_size, points = raw.unpack("<II", offset, f"the header of range {r}")
        if not 260 <= header_size <= 1 << 20:
            raise InputError(path, f"range {r}: header size {header_size} (a RAW1.01 range header has 304 bytes)")
        raw.need(offset, header_size, f"the header of range {r}")
        varying, record, supplementary = raw.unpack("<III", offset + 248, f"range {r}'s record layout")
        expected = 4 + 8 * bin(varying).count("1")
        if record != expected:
            raise InputError(path, f"range {r}: data records of {record} bytes where its varying-parameter bits "
                                   f"{varying:#x} make {expected}")
        if supplementary > 1 << 20:
            raise InputError(path, f"range {r}: supplementary header of {supplementary} bytes")
        if points > MAX_POINTS:
            raise InputError(path, f"range {r}: {points} data points, more than {MAX_POINTS}")
        data_offset = offset + header_size + supplementary
        raw.need(data_offset, points * record, f"the {points} points of range {r}")
        if r == index:
            chosen = (offset, header_size, points, varying, record, data_offset)
        offset = data_offset + points * record
    if any(raw.data[offset:]):
        raise InputError(path, f"{len(raw.data) - offset} bytes after the last range that no range header accounts for")
    assert chosen is not None
    start_offset, _, points, varying, record, data_offset = chosen
    _check_size(source, points)
    start = raw.f64(start_offset + 16, "the start 2theta")
    step = raw.f64(start_offset + 176, "the step")
    scan_type = raw.u32(start_offset + 196, "the scan type")
    if scan_type not in _RAW3_TWO_THETA_SCANS:
        raise InputError(path, f"range {index}: scan type {scan_type} does not scan 2theta (read: "
                               f"{', '.join(f'{k} {v}' for k, v in _RAW3_TWO_THETA_SCANS.items())})")
    if not (math.isfinite(start) and math.isfinite(step) and step > 0):
        raise InputError(path, f"range {index}: start {start:g} and step {step:g} deg do not make a 2theta scan")
    y = _range_counts(raw, data_offset, points, record, f"range {index}")
    if varying & 1:
        records = np.frombuffer(raw.data, dtype=np.uint8, count=points * record, offset=data_offset).reshape(points, record)
        x = np.frombuffer(records[:, 4:12].tobytes(), dtype="<f8").astype(float)
        notes.append("2theta as measured at each point (the range records it)")
    else:
        x = start + step * np.arange(points)
    time_per_step = raw.f32(start_offset + 192, "the time per step")
    anode = raw.text(608, 4, "the anode")
    average, ka1, ka2, kbeta, ratio = raw.unpack("<5d", 616, "the wavelengths")
    info = _wavelength(anode, ka1, ka2, kbeta, ratio, source)
    if "kalpha1_angstrom" not in info and average > 0:
        info = _wavelength(anode, average, None, kbeta, None, source)
        notes.append("the file gives only the average K-alpha wavelength: read as one line")
    kv, ma = raw.unpack("<II", start_offset + 224, "the generator settings")
    if kv or ma:
        info["tube_tension"], info["tube_current"] = f"{kv} kV", f"{ma} mA"
    info["primary_monochromator_code"] = raw.u32(580, "the primary monochromator code")
    info["secondary_monochromator_code"] = raw.u32(604, "the secondary monochromator code")
    metadata = {
        "format": "raw", "version": "RAW1.01", "scan_index": index, "n_scans": n_ranges, "notes": notes,
        "counting_time_s": _counting_time(time_per_step), "scan_type": _RAW3_TWO_THETA_SCANS[scan_type],
        "start_time": f"{raw.text(16, 10, 'the date')} {raw.text(26, 10, 'the time')}".strip() or None,
        "user": raw.text(36, 72, "the user") or None, "site": raw.text(108, 218, "the site") or None,
        "sample_name": raw.text(326, 60, "the sample id") or None, "comments": [c for c in [raw.text(386, 160, "the comment")] if c],
        "goniometer_radius_mm": raw.f32(564, "the goniometer radius") or None,
        "range_wavelength_angstrom": raw.f64(start_offset + 240, "the range's wavelength"),
    }
    return _make(path, x, y, None, info, metadata, "counts")


def _read_raw4(path: Path, raw: _Bytes, scan: int | None) -> PowderData:
    source = str(path)
    raw.need(0, 61, "the RAW4.00 file header")
    texts: dict[str, str] = {}
    info: dict = {}
    ranges: list[tuple[int, int, int, int, int]] = []  # (offset, header_size, points, record, data_offset)
    offset = 61
    size = len(raw.data)
    while offset < size:
        if size - offset < 8:
            if any(raw.data[offset:]):
                raise InputError(path, f"{size - offset} stray bytes at the end of the file")
            break
        kind, length = raw.unpack("<II", offset, "a record header")
        if kind in (0, 160):
            header_size = raw.u32(offset + 140, f"range {len(ranges)}'s header size")
            points = raw.u32(offset + 88, f"range {len(ranges)}'s point count")
            record = raw.u32(offset + 136, f"range {len(ranges)}'s record size")
            raw.need(offset, 160, f"range {len(ranges)}'s header")
            if record < 4 or record % 4 or record > 1024:
                raise InputError(path, f"range {len(ranges)}: data records of {record} bytes")
            if header_size > 1 << 20 or points > MAX_POINTS:
                raise InputError(path, f"range {len(ranges)}: {points} points after {header_size} header bytes")
            data_offset = offset + 160 + header_size
            raw.need(data_offset, points * record, f"the {points} points of range {len(ranges)}")
            ranges.append((offset, header_size, points, record, data_offset))
            if len(ranges) > MAX_SCANS:
                raise InputError(path, f"more than {MAX_SCANS} ranges")
            offset = data_offset + points * record
            continue
        if length < 8:
            raise InputError(path, f"a record of kind {kind} at byte {offset} declares {length} bytes")
        raw.need(offset, length, f"the record of kind {kind} at byte {offset}")
        if kind == 10 and length >= 36:
            name = raw.text(offset + 12, 24, "a text record's name")
            texts[name] = raw.data[offset + 36:offset + length].split(b"\x00")[0].decode("utf-8", "replace").strip()
        elif kind == 30 and length >= 120:
            average, ka1, ka2, kbeta, ratio = raw.unpack("<5d", offset + 72, "the tube's wavelengths")
            info = _wavelength(raw.text(offset + 116, 4, "the anode"), ka1, ka2, kbeta, ratio, source)
            if "kalpha1_angstrom" not in info and average > 0:
                info = _wavelength(raw.text(offset + 116, 4, "the anode"), average, None, kbeta, None, source)
        offset += length
    if not ranges:
        raise InputError(path, "no measurement range in the file")
    index, notes = _pick(source, len(ranges), scan, "ranges")
    start_offset, header_size, points, record, data_offset = ranges[index]
    _check_size(source, points)
    scan_type = raw.text(start_offset + 32, 24, "the scan type")
    start, step = raw.unpack("<dd", start_offset + 72, "the start and step")
    time_per_step, _, kv, ma = raw.unpack("<ffff", start_offset + 92, "the step time and generator")
    if not (math.isfinite(start) and math.isfinite(step) and step > 0):
        raise InputError(path, f"range {index}: start {start:g} and step {step:g} do not make a 2theta scan")
    drives = []  # scanned drives: flag set and position at the range start
    cursor = start_offset + 160
    while cursor < data_offset:
        kind, length = raw.unpack("<II", cursor, "a drive record")
        if length < 8 or cursor + length > data_offset:
            raise InputError(path, f"range {index}: a record of kind {kind} at byte {cursor} declares {length} bytes")
        if kind == 50 and length >= 64:
            flag = raw.u32(cursor + 8, "a drive flag")
            name = raw.text(cursor + 12, 24, "a drive name")
            position = raw.f64(cursor + 56, "a drive position")
            if flag and abs(position - start) <= 1e-6 + 1e-5 * abs(start):
                drives.append(name)
        cursor += length
    normalised = re.sub(r"[\s_-]", "", scan_type).lower()
    if len(drives) == 1:
        if re.sub(r"[\s_-]", "", drives[0]).lower() not in ("2theta", "twotheta"):
            raise InputError(path, f"range {index}: the scanned drive is {drives[0]!r}, not 2theta: not a powder pattern")
    elif normalised not in _RAW4_TWO_THETA_SCANS:
        raise InputError(path, f"range {index}: scan type {scan_type!r} does not scan 2theta")
    y = _range_counts(raw, data_offset, points, record, f"range {index}")
    x = start + step * np.arange(points)
    if kv or ma:
        info["tube_tension"], info["tube_current"] = f"{kv:g} kV", f"{ma:g} mA"
    date = raw.text(12, 12, "the date")
    metadata = {
        "format": "raw", "version": "RAW4.00", "scan_index": index, "n_scans": len(ranges), "notes": notes,
        "counting_time_s": _counting_time(time_per_step), "scan_type": scan_type,
        "start_time": f"{date} {raw.text(24, 10, 'the time')}".strip() or None,
        "user": texts.get("USER") or None, "site": texts.get("SITE") or None,
        "sample_name": texts.get("SAMPLEID") or None, "comments": [c for c in [texts.get("COMMENT")] if c],
        "creator": texts.get("CREATOR") or None, "texts": texts,
        "range_wavelength_angstrom": raw.f64(start_offset + 112, "the range's wavelength"),
    }
    if record != 4:
        notes.append(f"records of {record} bytes: the first float of each is the count")
    return _make(path, x, y, None, info, metadata, "counts")


# --------------------------------------------------------------------------- Rigaku RAS and RASX


_RAS_KEY = re.compile(r'^\*(\S+)\s+"(.*)"\s*$')


def _read_ras(path: Path, text: str, scan: int | None) -> PowderData:
    source = str(path)
    lines = text.splitlines()
    scans: list[tuple[dict[str, str], int, list[tuple[float, ...]], int | None]] = []  # header, its line, rows (line, x, y, att), end line
    state = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == "*RAS_HEADER_START":
            if len(scans) >= MAX_SCANS:
                raise InputError(source, f"more than {MAX_SCANS} scans")
            scans.append(({}, number, [], None))
            state = "header"
        elif stripped == "*RAS_HEADER_END":
            state = None
        elif stripped == "*RAS_INT_START":
            if not scans:
                raise InputError(f"{source}:{number}", "*RAS_INT_START before any *RAS_HEADER_START")
            state = "data"
        elif stripped == "*RAS_INT_END":
            if state == "data":
                header, start, rows, _ = scans[-1]
                scans[-1] = (header, start, rows, number)
            state = None
        elif state == "header":
            match = _RAS_KEY.match(stripped)
            if match:
                scans[-1][0][match.group(1)] = match.group(2).strip()
        elif state == "data" and stripped and not stripped.startswith("#"):
            parts = stripped.split()
            if len(parts) not in (2, 3):
                raise InputError(f"{source}:{number}", f"{len(parts)} values where a RAS data row has 2theta, intensity and attenuation")
            try:
                values = [float(p) for p in parts]
            except ValueError:
                raise InputError(f"{source}:{number}", f"expected numbers, got {stripped[:60]!r}") from None
            rows = scans[-1][2]
            rows.append((number, *values, 1.0) if len(values) == 2 else (number, *values))
            if len(rows) > MAX_POINTS:
                raise InputError(source, f"more than {MAX_POINTS} data points")
    if not scans:
        raise InputError(source, "no *RAS_HEADER_START: not a Rigaku RAS file")
    index, notes = _pick(source, len(scans), scan)
    header, header_line, rows, end = scans[index]
    if end is None:
        declared = _ras_count(header, source)
        if declared is None or declared != len(rows):
            raise InputError(source, f"scan {index} has no *RAS_INT_END and {len(rows)} rows"
                                     + (f" where *MEAS_DATA_COUNT declares {declared}" if declared is not None else "")
                                     + ": the file is truncated")
        notes.append(f"scan {index} ends without *RAS_INT_END; it holds the {declared} rows *MEAS_DATA_COUNT declares")
    where = f"{source}:{header_line}"
    data = np.array([r[1:] for r in rows], dtype=float).reshape(-1, 3)
    for i, row in enumerate(rows):
        if not all(math.isfinite(v) for v in row[1:]):
            raise InputError(f"{source}:{row[0]}", "non-finite value")
        if row[2] < 0:
            raise InputError(f"{source}:{row[0]}", f"negative counts {row[2]:g}")
        if row[3] <= 0:
            raise InputError(f"{source}:{row[0]}", f"attenuation factor {row[3]:g} is not positive")
        if i and row[1] <= rows[i - 1][1]:
            raise InputError(f"{source}:{row[0]}", f"2theta values must increase strictly: {row[1]:g} after {rows[i - 1][1]:g}")
    declared = _ras_count(header, where)
    if declared is not None and declared != len(rows) and end is not None:
        raise InputError(f"{source}:{end}", f"{len(rows)} data rows where *MEAS_DATA_COUNT declares {declared}")
    return _rigaku(path, where, header, data, index, len(scans), notes, "ras")


def _ras_count(header: dict, where: str) -> int | None:
    value = _number(header.get("MEAS_DATA_COUNT"), where, "*MEAS_DATA_COUNT")
    return None if value is None else int(value)


def _rigaku(path: Path, where: str, header: dict, data: np.ndarray, index: int, n_scans: int, notes: list[str],
            fmt: str) -> PowderData:
    """A RAS or RASX scan from its header keys (RAS names) and rows of 2theta, intensity, attenuation."""
    _check_size(where, len(data))
    axis = header.get("MEAS_SCAN_AXIS_X", "")
    if axis and "2theta" not in re.sub(r"[^0-9a-z]", "", axis.lower().replace("two", "2")):
        raise InputError(where, f"the scan axis is {axis!r}, not 2theta: not a powder pattern")
    unit_x = header.get("MEAS_SCAN_UNIT_X", "deg")
    if unit_x and unit_x.lower() not in ("deg", "degree", "degrees", "°"):
        raise InputError(where, f"2theta in {unit_x!r}, expected deg")
    unit_y = (header.get("MEAS_SCAN_UNIT_Y") or "counts").strip().lower()
    if unit_y in ("counts", "count", "cnt"):
        kind = "counts"
    elif unit_y in ("cps", "counts/s", "count/s"):
        kind = "counts_per_second"
    else:
        raise InputError(where, f"intensities in unknown unit {unit_y!r} (expected counts or cps)")
    x, stored, factors = data[:, 0], data[:, 1], data[:, 2]
    y, sigma = stored * factors, None
    if np.any(factors != 1.0):
        if kind == "counts":
            sigma = factors * np.sqrt(np.maximum(stored, 1.0))
        notes.append(f"intensities at {int((factors != 1).sum())} points multiplied by their attenuation factor "
                     f"(up to {factors.max():g})" + ("; sigma = factor * sqrt(counts)" if kind == "counts" else ""))
    step = _number(header.get("MEAS_SCAN_STEP"), where, "*MEAS_SCAN_STEP")
    speed = _number(header.get("MEAS_SCAN_SPEED"), where, "*MEAS_SCAN_SPEED")
    speed_unit = (header.get("MEAS_SCAN_SPEED_UNIT") or "").strip().lower()
    time = None
    if speed and speed > 0:
        if speed_unit in ("deg/min", "°/min") and step and step > 0:
            time = 60.0 * step / speed
        elif speed_unit in ("s", "sec", "sec/step", "s/step"):
            time = speed
    ka1 = _number(header.get("HW_XG_WAVE_LENGTH_ALPHA1"), where, "*HW_XG_WAVE_LENGTH_ALPHA1")
    ka2 = _number(header.get("HW_XG_WAVE_LENGTH_ALPHA2"), where, "*HW_XG_WAVE_LENGTH_ALPHA2")
    kbeta = _number(header.get("HW_XG_WAVE_LENGTH_BETA"), where, "*HW_XG_WAVE_LENGTH_BETA")
    unit = (header.get("HW_XG_WAVE_LENGTH_UNIT") or "Angstrom").strip().lower()
    if unit == "nm":
        ka1, ka2, kbeta = (None if v is None else 10 * v for v in (ka1, ka2, kbeta))
    elif unit not in ("angstrom", "a", "å", "\u212b"):
        raise InputError(where, f"wavelengths in unit {unit!r}, expected Angstrom")
    info = _wavelength(header.get("HW_XG_TARGET_NAME"), ka1, ka2, kbeta, None, where)
    if "kalpha2_angstrom" in info:
        info["ratio_kalpha2_kalpha1"] = DEFAULT_KALPHA2_RATIO
        info["ratio_assumed"] = True
    wave_type = (header.get("MEAS_COND_XG_WAVE_TYPE") or "").strip()
    if wave_type:
        info["wave_type"] = wave_type
    if wave_type.lower() in ("ka1", "kalpha1"):
        info["kalpha1_only"] = f"wave type {wave_type}"
    elif "kalpha2_angstrom" in info:
        notes.append(f"the file gives no K-alpha2/K-alpha1 ratio: {DEFAULT_KALPHA2_RATIO} used")
    for key, name in (("MEAS_COND_XG_VOLTAGE", "tube_tension"), ("MEAS_COND_XG_CURRENT", "tube_current")):
        if header.get(key):
            info[name] = f"{header[key]} {header.get(key.replace('MEAS_COND', 'HW') + '_UNIT', 'kV' if 'VOLT' in key else 'mA')}"
    metadata = {
        "format": fmt, "scan_index": index, "n_scans": n_scans, "notes": notes, "counting_time_s": time,
        "scan_axis": axis or None, "scan_mode": header.get("MEAS_SCAN_MODE") or None,
        "start_time": header.get("MEAS_SCAN_START_TIME") or None, "sample_name": header.get("FILE_SAMPLE") or None,
        "user": header.get("FILE_OPERATOR") or None, "instrument": header.get("FILE_SYSTEM_NAME") or None,
        "detector": header.get("HW_COUNTER_SELECT_NAME") or None,
        "comments": [c for c in (header.get("FILE_COMMENT"), header.get("FILE_MEMO")) if c],
    }
    return _make(path, x, y, sigma, info, metadata, kind)


#: RASX ``MesurementConditions`` elements (path below the root) and the RAS keys they hold.
_RASX_KEYS = {
    ("ScanInformation", "AxisName"): "MEAS_SCAN_AXIS_X", ("ScanInformation", "PositionUnit"): "MEAS_SCAN_UNIT_X",
    ("ScanInformation", "IntensityUnit"): "MEAS_SCAN_UNIT_Y", ("ScanInformation", "Step"): "MEAS_SCAN_STEP",
    ("ScanInformation", "Speed"): "MEAS_SCAN_SPEED", ("ScanInformation", "SpeedUnit"): "MEAS_SCAN_SPEED_UNIT",
    ("ScanInformation", "DataCount"): "MEAS_DATA_COUNT", ("ScanInformation", "Mode"): "MEAS_SCAN_MODE",
    ("ScanInformation", "StartTime"): "MEAS_SCAN_START_TIME",
    ("HWConfigurations", "XrayGenerator", "TargetName"): "HW_XG_TARGET_NAME",
    ("HWConfigurations", "XrayGenerator", "WaveType"): "MEAS_COND_XG_WAVE_TYPE",
    ("HWConfigurations", "XrayGenerator", "WavelengthKalpha1"): "HW_XG_WAVE_LENGTH_ALPHA1",
    ("HWConfigurations", "XrayGenerator", "WavelengthKalpha2"): "HW_XG_WAVE_LENGTH_ALPHA2",
    ("HWConfigurations", "XrayGenerator", "WavelengthKbeta"): "HW_XG_WAVE_LENGTH_BETA",
    ("HWConfigurations", "XrayGenerator", "Voltage"): "MEAS_COND_XG_VOLTAGE",
    ("HWConfigurations", "XrayGenerator", "Current"): "MEAS_COND_XG_CURRENT",
    ("GeneralInformation", "SampleName"): "FILE_SAMPLE", ("GeneralInformation", "Operator"): "FILE_OPERATOR",
    ("GeneralInformation", "Comment"): "FILE_COMMENT", ("GeneralInformation", "Memo"): "FILE_MEMO",
    ("GeneralInformation", "SystemName"): "FILE_SYSTEM_NAME",
}


def _read_rasx(path: Path, scan: int | None) -> PowderData:
    source = str(path)
    archive = _open_zip(path, ".rasx")
    profiles = sorted((n for n in archive.namelist() if re.fullmatch(r"Data\d+/Profile\d+\.txt", n)), key=_numbered)
    if not profiles:
        raise InputError(path, "no Data<k>/Profile<k>.txt in the archive: not a Rigaku RASX profile (an image-only RASX is not read)")
    if len(profiles) > MAX_SCANS:
        raise InputError(path, f"{len(profiles)} profiles, more than {MAX_SCANS}")
    index, notes = _pick(source, len(profiles), scan)
    name = profiles[index]
    folder, number = name.split("/")[0], re.findall(r"\d+", name.split("/")[1])[0]
    conditions_name = f"{folder}/MesurementConditions{number}.xml"
    header: dict[str, str] = {}
    if conditions_name in archive.namelist():
        root = _xml(_member(archive, conditions_name, path), path, conditions_name)
        for keys, ras_key in _RASX_KEYS.items():
            value = _text(root, *keys)
            if value is not None:
                header[ras_key] = value
    else:
        notes.append(f"no {conditions_name}: no wavelength, unit or counting time")
    try:
        text = _member(archive, name, path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, f"{name} is not UTF-8 text") from None
    rows: list[list[float]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise InputError(path, f"{name} line {line_number}: {len(parts)} values where a profile row has 2theta, intensity and attenuation")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InputError(path, f"{name} line {line_number}: expected numbers, got {line.strip()[:60]!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise InputError(path, f"{name} line {line_number}: non-finite value")
        if values[1] < 0:
            raise InputError(path, f"{name} line {line_number}: negative counts {values[1]:g}")
        if len(values) == 3 and values[2] <= 0:
            raise InputError(path, f"{name} line {line_number}: attenuation factor {values[2]:g} is not positive")
        if rows and values[0] <= rows[-1][0]:
            raise InputError(path, f"{name} line {line_number}: 2theta values must increase strictly: {values[0]:g} after {rows[-1][0]:g}")
        rows.append(values if len(values) == 3 else [*values, 1.0])
        if len(rows) > MAX_POINTS:
            raise InputError(path, f"{name}: more than {MAX_POINTS} data points")
    declared = _ras_count(header, source)
    if declared is not None and declared != len(rows):
        raise InputError(path, f"{name}: {len(rows)} rows where {conditions_name} declares DataCount {declared}")
    pattern = _rigaku(path, source, header, np.array(rows, dtype=float).reshape(-1, 3), index, len(profiles), notes, "rasx")
    pattern.metadata["member"] = name
    return pattern


# --------------------------------------------------------------------------- GSAS


_BANK = re.compile(r"^BANK\s", re.I)
_WAVELENGTH_COMMENT = re.compile(r"wavelength\s*(?:\(\s*(?:a|angstrom|å)\s*\))?\s*[=:]\s*([0-9]*\.[0-9]+|[0-9]+)", re.I)


def _looks_like_gsas(data: bytes) -> bool:
    head = data[:200_000]
    return b"\x00" not in head[:4096] and re.search(rb"(^|\n)BANK\s+\d", head) is not None


def _read_gsas(path: Path, text: str, scan: int | None) -> PowderData:
    source = str(path)
    lines = text.splitlines()
    banks = [i for i, line in enumerate(lines) if _BANK.match(line)]
    if not banks:
        raise InputError(source, "no BANK line: not a GSAS raw file")
    if len(banks) > MAX_SCANS:
        raise InputError(source, f"more than {MAX_SCANS} banks")
    index, notes = _pick(source, len(banks), scan, "banks")
    first = banks[index]
    where = f"{source}:{first + 1}"
    fields = lines[first].split()
    if len(fields) < 5:
        raise InputError(where, f"a BANK line needs its number, points, records and binning: {lines[first].strip()[:60]!r}")
    binning = fields[4].upper()
    if binning not in ("CONS", "CONST"):
        raise InputError(where, f"binning {fields[4]!r} is not read (CONS 2theta steps only; time-of-flight binnings are not powder 2theta patterns)")
    try:
        n_points = int(fields[2])
        coefficients = [float(v) for v in fields[5:7]]
    except (ValueError, IndexError):
        raise InputError(where, f"the BANK line's points, start and step are not numbers: {lines[first].strip()[:80]!r}") from None
    record_type = next((f.upper() for f in fields[7:] if f.upper() in ("STD", "ESD", "ALT", "FXYE", "FXY")), "STD")
    if record_type in ("ALT", "FXY"):
        raise InputError(where, f"{record_type} records are not read (STD, ESD or FXYE)")
    _check_size(where, n_points)
    end = banks[index + 1] if index + 1 < len(banks) else len(lines)
    body = [(n + 1, line) for n, line in enumerate(lines[first + 1:end], start=first + 1)
            if line.strip() and not line.lstrip().startswith("#")]
    x: np.ndarray
    y: np.ndarray
    sigma: np.ndarray | None = None
    if record_type == "FXYE":
        rows = []
        for number, line in body:
            parts = line.split()
            if len(parts) != 3:
                raise InputError(f"{source}:{number}", f"{len(parts)} values where an FXYE line has 2theta, intensity and sigma")
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                raise InputError(f"{source}:{number}", f"expected numbers, got {line.strip()[:60]!r}") from None
            if len(rows) > MAX_POINTS:
                raise InputError(source, f"more than {MAX_POINTS} data points")
        data = np.array(rows, dtype=float).reshape(-1, 3)
        if len(data) != n_points:
            notes.append(f"{len(data)} data lines where the BANK line declares {n_points}: all were read")
        x, y, sigma = data[:, 0] / 100.0, data[:, 1], data[:, 2]
    else:
        if len(coefficients) < 2:
            raise InputError(where, "the BANK line has no start and step")
        start, step = coefficients
        width = 8 if record_type == "STD" else 16
        per_line = 10 if record_type == "STD" else 5
        values: list[tuple[float, float]] = []
        for number, line in body:
            padded = line.rstrip("\r\n").ljust(per_line * width)
            for k in range(per_line):
                if len(values) == n_points:
                    break
                field = padded[k * width:(k + 1) * width]
                try:
                    if record_type == "STD":
                        counter = field[:2].strip()
                        values.append((float(int(counter)) if counter else 1.0, float(field[2:8])))
                    else:
                        values.append((float(field[:8]), float(field[8:16])))
                except ValueError:
                    raise InputError(f"{source}:{number}", f"field {k + 1} {field.strip()!r} is not a {record_type} "
                                                           f"{'counter number and count' if record_type == 'STD' else 'count and sigma'}") from None
            if len(values) == n_points:
                break
        if len(values) < n_points:
            raise InputError(source, f"bank {index} ends after {len(values)} of the {n_points} points its BANK line declares")
        data = np.array(values, dtype=float)
        if not (math.isfinite(start) and math.isfinite(step) and step > 0):
            raise InputError(where, f"start {start:g} and step {step:g} centidegrees do not make a 2theta scan")
        x = (start + step * np.arange(n_points)) / 100.0
        if record_type == "STD":
            counters, y = data[:, 0], data[:, 1]
            if np.any(counters <= 0):
                raise InputError(source, f"bank {index}: a counter number {counters.min():g} is not positive")
            if np.any(counters != 1):
                sigma = np.sqrt(np.maximum(y, 1.0) / counters)
                notes.append("sigma = sqrt(count / counters) from the STD counter numbers")
        else:
            y, sigma = data[:, 0], data[:, 1]
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(x)) or (sigma is not None and not np.all(np.isfinite(sigma))):
        raise InputError(source, f"bank {index} holds a value that is not finite")
    if sigma is not None and record_type != "STD":
        unweighted = sigma <= 0
        if np.any(unweighted):
            notes.append(f"{int(unweighted.sum())} points with sigma {sigma[unweighted].min():g} (no weight in GSAS) left out")
            x, y, sigma = x[~unweighted], y[~unweighted], sigma[~unweighted]
            _check_size(source, x.size)
    elif np.any(y < 0):
        i = int(np.argmax(y < 0))
        raise InputError(source, f"bank {index}: counts must not be negative (point {i + 1}: {y[i]:g})")
    elif np.any(y == 0):
        empty = y == 0
        notes.append(f"{int(empty.sum())} points with count 0 (no weight in GSAS) left out")
        x, y, sigma = x[~empty], y[~empty], None if sigma is None else sigma[~empty]
        _check_size(source, x.size)
    comments = [line.strip() for line in lines[:first] if line.strip()][:50]
    info: dict = {}
    for line in comments:
        match = _WAVELENGTH_COMMENT.search(line)
        if match:
            value = float(match.group(1))
            if 0.05 <= value <= 3.0:
                info = {"wavelength_angstrom": value, "wavelength_from": line.lstrip("# ")[:80]}
                break
    integral = sigma is None and np.all(y == np.round(y))
    metadata = {"format": "gsas", "record_type": record_type, "scan_index": index, "n_scans": len(banks), "notes": notes,
                "counting_time_s": None, "title": lines[0].strip()[:80] if lines else None, "comments": comments,
                "bank": lines[first].strip()[:80]}
    return _make(path, x, y, sigma, info, metadata, "counts" if integral and record_type == "STD" else "intensity")
