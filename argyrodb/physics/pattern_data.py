"""Measured powder patterns read from files: 2theta, counts, optional sigma, wavelength and metadata.

Formats (chosen by the file's extension, or ``fmt=``):

* ``.xy``, ``.dat``, ``.txt``: two columns, 2theta (deg) and counts, separated by whitespace, commas or
  semicolons; a third column, when every data line has one, is sigma (as in ``.xye``). Lines starting
  with ``#``, ``!`` or ``;`` are comments, and text after ``#`` or ``!`` on a data line is dropped.
  Text lines before the first data line (a header such as ``2theta intensity``) are kept in
  ``metadata["header"]``; a text line after the data started is an error naming the line.
* ``.xye``: three columns, 2theta, counts, sigma.
* ``.csv``: comma-separated 2theta, counts and optionally sigma, a header line optional.
* ``.xrdml`` (PANalytical Data Collector, XML): read with :mod:`xml.etree.ElementTree`. The 2theta
  positions are ``<listPositions>`` or ``<startPosition>``/``<endPosition>`` (equally spaced over the
  number of counts) of ``<positions axis="2Theta">``; the counts are ``<intensities>`` (corrected for
  beam attenuation by the instrument) or ``<counts>`` (raw, multiplied here by ``<beamAttenuationFactors>``
  when present, with sigma = factor * sqrt(raw counts)). ``<commonCountingTime>`` (or ``<countingTimes>``)
  is kept so counts/s can be formed (:meth:`PowderData.counts_per_second`); ``<usedWavelength>`` gives
  K-alpha1, K-alpha2, their ratio and K-beta, and the tube's ``<anodeMaterial>`` the anode. A file with
  several scans is read at its first scan (or ``scan=``), with a note in ``metadata["notes"]``.
* ``.brml`` (Bruker DIFFRAC.SUITE), ``.raw`` (Bruker RAW1.01 "version 3" and RAW4.00 "version 4"; a
  ``.raw`` that is GSAS text is read as GSAS), ``.ras`` and ``.rasx`` (Rigaku SmartLab), ``.gsa``,
  ``.gsas``, ``.gss``, ``.fxye``, ``.xra`` (GSAS raw files: ``BANK`` lines with CONS binning and STD,
  ESD or FXYE records): see :mod:`argyrodb.physics.pattern_formats`, which says what is read from each
  and how. Their wavelengths go into ``metadata["wavelength"]`` with the XRDML keys, so
  :meth:`PowderData.wavelength_components` serves every format alike.

A file with a sigma column (``.xye``, 3-column text, GSAS ESD/FXYE) may hold negative intensities
(background-subtracted data): it is read with kind ``"intensity"`` and a note in ``metadata["notes"]``.
Formats of raw counts (XRDML, BRML, RAW, RAS, RASX, GSAS STD, 2-column text) refuse negative counts.

Why no library: xrayutilities' XRDML reader (``xrayutilities.io.XRDMLFile``) divides every scan by the
counting time (the raw counts needed for Poisson weights are lost for ``<intensities>``), reads no
wavelength, and fails with AttributeError/ValueError on a missing element; xylib (LGPL, C++ with Python
bindings) reads ``<intensities>`` only (``<counts>`` is in an unmerged pull request) and no wavelength;
xrdtools 0.1.1 (2018) is unmaintained. For the Bruker, Rigaku and GSAS formats (looked at 2026-12):
geddes 1.0.1 (MIT, Rust) reads all of them but returns 2theta and intensity only (no wavelength, counting
time, sigma or attenuation); openreadout 0.4.0 (a 22 MB native wheel for 120 instrument formats, first
released 2026, "beta") reads RAW/BRML/RAS/RASX with wavelengths but leaves absorber and attenuation
factors unapplied and reads no GSAS; bruker-powderxrd-parser needs Python 3.13; fairmat-readers-xrd
0.0.10 returns pint quantities and reads no RAW1.01, RAS or GSAS; xylib's Debian build (1.6) reads RAW1.01 only
and has no Python binding on PyPI. The readers here use only the standard library (``zipfile``,
``struct``, ``xml.etree``) and are checked against those libraries on real files by
``checks/xrd_real.py`` (``make check-xrd-real``).

:class:`PowderData`, the limits and the array checks live in :mod:`argyrodb.physics.powder_data` (shared with the
instrument readers) and are imported here.

Every problem becomes an :class:`~argyrodb.core.errors.InputError` whose source is the file or
``file:line`` and whose message is one line: a non-numeric data line, a wrong number of columns, NaN or
infinity, fewer than :data:`MIN_POINTS` points, 2theta not strictly increasing or outside 0-180 deg,
negative counts, sigma <= 0, malformed XML, an XRDML file without a 2theta scan, a truncated or foreign
archive or binary file, arrays of different lengths.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import read_bytes_file, read_text_file
from . import pattern_formats
from .powder_data import KINDS, MAX_BYTES, MAX_POINTS, MIN_POINTS, PowderData, negative_note, wavelength_text

__all__ = [
    "FORMATS",
    "KINDS",
    "MAX_BYTES",
    "MAX_POINTS",
    "MIN_POINTS",
    "MULTI_SCAN_FORMATS",
    "TEXT_EXTENSIONS",
    "PowderData",
    "read_powder_data",
]

#: Extensions of each format.
TEXT_EXTENSIONS = (".xy", ".dat", ".txt")
FORMATS = {".xy": "xy", ".dat": "xy", ".txt": "xy", ".xye": "xye", ".csv": "csv", ".xrdml": "xrdml",
           ".brml": "brml", ".raw": "raw", ".ras": "ras", ".rasx": "rasx",
           ".gsa": "gsas", ".gsas": "gsas", ".gss": "gsas", ".fxye": "gsas", ".xra": "gsas"}
#: Formats whose files may hold several scans (``scan=`` picks one).
MULTI_SCAN_FORMATS = ("xrdml", "brml", "raw", "ras", "rasx", "gsas")
_COMMENT_STARTS = ("#", "!", ";")
_SPLIT = re.compile(r"[\s,;]+")


# --------------------------------------------------------------------------- entry point


def read_powder_data(path: str | Path, fmt: str | None = None, scan: int | None = None) -> PowderData:
    """Read a measured powder pattern (see the module docstring for the formats).

    ``fmt`` overrides the extension (one of :data:`FORMATS`' values: 'xy', 'xye', 'csv', 'xrdml', 'brml',
    'raw', 'ras', 'rasx', 'gsas'); ``scan`` picks one scan (XRDML scan, BRML raw-data route, RAW range,
    RAS/RASX scan, GSAS bank) of a file with several (0 = the first, the default)."""
    path = Path(path)
    if fmt is None:
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(path, f"unknown pattern format {path.suffix or '(no extension)'!r}: expected "
                                   f"{', '.join(sorted(FORMATS))}")
    elif fmt not in set(FORMATS.values()):
        raise ParameterError("fmt", f"unknown format {fmt!r} (one of {', '.join(sorted(set(FORMATS.values())))})")
    if scan is not None and fmt not in MULTI_SCAN_FORMATS:
        raise ParameterError("scan", f"only {', '.join(f.upper() for f in MULTI_SCAN_FORMATS)} files have several scans")
    if scan is not None and (isinstance(scan, bool) or not isinstance(scan, int) or scan < 0):
        raise ParameterError("scan", f"scan {scan!r} does not exist: scans are numbered from 0")
    if fmt == "xrdml":
        return _read_xrdml(path, 0 if scan is None else scan)
    if fmt in ("xy", "xye", "csv"):
        return _read_columns(path, fmt)
    return pattern_formats.read(path, fmt, scan)


# --------------------------------------------------------------------------- text formats


def _strip_comment(line: str) -> str:
    text = line.strip()
    if not text or text.startswith(_COMMENT_STARTS):
        return ""
    for mark in ("#", "!"):
        cut = text.find(mark)
        if cut >= 0:
            text = text[:cut]
    return text.strip()


def _read_columns(path: Path, fmt: str) -> PowderData:
    text = read_text_file(path, max_bytes=MAX_BYTES)
    source = str(path)
    rows: list[tuple[float, ...]] = []
    header: list[str] = []
    comments: list[str] = []
    n_columns: int | None = None
    first_line = 0
    allowed = {"xy": (2, 3), "xye": (3,), "csv": (2, 3)}[fmt]
    previous_x = -math.inf
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(_COMMENT_STARTS):
            if len(comments) < 50:
                comments.append(stripped[:200])
            continue
        body = _strip_comment(line)
        if not body:
            continue
        parts = [p for p in _SPLIT.split(body) if p]
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            if not rows:  # a header line (column names) before the data
                if len(header) < 50:
                    header.append(body[:200])
                continue
            raise InputError(f"{source}:{number}", f"expected numbers, got {_excerpt(line)}") from None
        where = f"{source}:{number}"
        if n_columns is None:
            if len(values) not in allowed:
                raise InputError(where, f"{len(values)} columns; a {_describe(fmt)} file has "
                                        f"{' or '.join(map(str, allowed))} (2theta, counts{', sigma' if 3 in allowed else ''})")
            n_columns, first_line = len(values), number
        elif len(values) != n_columns:
            raise InputError(where, f"{len(values)} columns where line {first_line} has {n_columns}")
        if not all(math.isfinite(v) for v in values):
            raise InputError(where, f"non-finite value in {_excerpt(line)}")
        x, y = values[0], values[1]
        if x <= previous_x:
            raise InputError(where, f"2theta values must increase strictly: {x:g} after {previous_x:g}")
        if y < 0 and n_columns == 2:
            raise InputError(where, f"negative counts {y:g} (negative intensities are read only with a sigma column)")
        if n_columns == 3 and values[2] <= 0:
            raise InputError(where, f"sigma must be positive, got {values[2]:g}")
        previous_x = x
        rows.append(values)
        if len(rows) > MAX_POINTS:
            raise InputError(source, f"more than {MAX_POINTS} data points")
    if len(rows) < MIN_POINTS:
        raise InputError(source, f"only {len(rows)} data points (need at least {MIN_POINTS})")
    data = np.array(rows, dtype=float)
    sigma = data[:, 2] if n_columns == 3 else None
    notes = [note] if (note := negative_note(data[:, 0], data[:, 1])) else []
    metadata = {"format": fmt, "columns": n_columns, "header": header, "comments": comments, "notes": notes}
    return PowderData(data[:, 0], data[:, 1], sigma, source, None, metadata, kind="intensity")


def _describe(fmt: str) -> str:
    return {"xy": ".xy/.dat/.txt", "xye": ".xye", "csv": ".csv"}[fmt]


def _excerpt(line: str, limit: int = 60) -> str:
    text = line.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --------------------------------------------------------------------------- XRDML


def _local(tag: str) -> str:
    """An element's name without its namespace ('{http://www.xrdml.com/...}scan' -> 'scan')."""
    return tag.rsplit("}", 1)[-1]


def _child(element, name: str):
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element, name: str) -> list:
    return [child for child in element if _local(child.tag) == name]


def _descendant(element, name: str):
    for child in element.iter():
        if _local(child.tag) == name:
            return child
    return None


def _text(element, name: str) -> str | None:
    child = _child(element, name) if element is not None else None
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _xml_number(text: str | None, source: str, what: str) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(source, f"{what} is not a number: {_excerpt(text)}") from None
    if not math.isfinite(value):
        raise InputError(source, f"{what} is not finite")
    return value


def _xml_numbers(element, source: str, what: str) -> np.ndarray:
    parts = (element.text or "").split()
    try:
        values = np.array([float(p) for p in parts], dtype=float)
    except ValueError:
        bad = next(p for p in parts if not _is_number(p))
        raise InputError(source, f"<{what}> holds a non-number {_excerpt(bad)}") from None
    if values.size and not np.all(np.isfinite(values)):
        i = int(np.argmin(np.isfinite(values)))
        raise InputError(source, f"<{what}> value {i + 1} is not finite ({parts[i]})")
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_xml(path: Path):
    data = read_bytes_file(path, MAX_BYTES)
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        where = f"{path}:{line}" if line else str(path)
        message = str(exc).split(":")[0]
        raise InputError(where, f"malformed XML ({message}{f', column {column}' if column is not None else ''})") from None
    except (LookupError, ValueError) as exc:  # an unknown encoding declared, e.g. <?xml encoding="utf-99"?>
        raise InputError(path, f"unreadable XML ({exc})") from None


def _wavelength_info(measurement, root) -> dict:
    info: dict = {}
    used = _child(measurement, "usedWavelength")
    source = "usedWavelength"
    if used is not None:
        info["intended"] = used.get("intended")
        for tag, key in (("kAlpha1", "kalpha1_angstrom"), ("kAlpha2", "kalpha2_angstrom"), ("kBeta", "kbeta_angstrom"),
                         ("ratioKAlpha2KAlpha1", "ratio_kalpha2_kalpha1")):
            value = _xml_number(_text(used, tag), source, f"<{tag}>")
            if value is not None:
                info[key] = value
    incident = _child(measurement, "incidentBeamPath")
    if incident is not None:
        tube = _child(incident, "xRayTube")
        if tube is not None:
            anode = _text(tube, "anodeMaterial")
            if anode:
                info["anode"] = anode
            info["tube"] = tube.get("name")
            for tag in ("tension", "current"):
                text = _text(tube, tag)
                if text is not None:
                    unit = _child(tube, tag).get("unit", "")
                    info[f"tube_{tag}"] = f"{text} {unit}".strip()
        mono = next((c for c in incident if _local(c.tag) in ("monochromator", "incidentMonochromator")), None)
        if mono is not None:
            info["incident_monochromator"] = mono.get("name") or "present"
    return info


def _read_xrdml(path: Path, scan_index: int) -> PowderData:
    source = str(path)
    root = _read_xml(path)
    if _local(root.tag) != "xrdMeasurements":
        raise InputError(source, f"not an XRDML file: the root element is <{_local(root.tag)}>, not <xrdMeasurements>")
    notes: list[str] = []
    scans = []  # (measurement, scan)
    for measurement in _children(root, "xrdMeasurement"):
        for scan in _children(measurement, "scan"):
            scans.append((measurement, scan))
    if not scans:
        raise InputError(source, "no <xrdMeasurement><scan> in the file")
    if not isinstance(scan_index, int) or not 0 <= scan_index < len(scans):
        raise ParameterError("scan", f"scan {scan_index!r} does not exist: the file has {len(scans)} scan(s), numbered from 0")
    if len(scans) > 1:
        notes.append(f"the file holds {len(scans)} scans; scan {scan_index} was read (scan= selects another)")
    measurement, scan = scans[scan_index]
    status = scan.get("status")
    if status and status != "Completed":
        notes.append(f"scan status {status!r}: the data may be partial")
    points = _child(scan, "dataPoints")
    if points is None:
        raise InputError(source, "the scan has no <dataPoints>")

    # counts
    counts_element = _child(points, "intensities")
    counts_tag = "intensities"
    if counts_element is None:
        counts_element, counts_tag = _child(points, "counts"), "counts"
    if counts_element is None:
        raise InputError(source, "the scan has neither <intensities> nor <counts>")
    raw = _xml_numbers(counts_element, source, counts_tag)
    n = raw.size
    if n < MIN_POINTS:
        raise InputError(source, f"only {n} data points (need at least {MIN_POINTS})")
    unit = (counts_element.get("unit") or "counts").strip()
    if unit.lower() in ("counts", "count", ""):
        kind = "counts"
    elif unit.lower() in ("cps", "counts/s", "counts per second"):
        kind = "counts_per_second"
    else:
        raise InputError(source, f"<{counts_tag}> in unknown unit {unit!r} (expected counts or cps)")
    counts, sigma = raw, None
    attenuation = _child(points, "beamAttenuationFactors")
    if attenuation is not None:
        factors = _xml_numbers(attenuation, source, "beamAttenuationFactors")
        if factors.size != n:
            raise InputError(source, f"{factors.size} beam attenuation factors for {n} counts")
        if counts_tag == "counts" and np.any(factors != 1.0):
            counts = raw * factors
            sigma = factors * np.sqrt(np.maximum(raw, 1.0))
            notes.append("raw <counts> multiplied by <beamAttenuationFactors>; sigma = factor * sqrt(raw counts)")

    # 2theta
    two_theta = None
    axis_positions = {}
    for positions in _children(points, "positions"):
        axis = positions.get("axis", "")
        axis_positions[axis] = positions
    positions = axis_positions.get("2Theta")
    if positions is None:
        raise InputError(source, f"no <positions axis=\"2Theta\"> in the scan (axes: {', '.join(axis_positions) or 'none'})")
    pos_unit = positions.get("unit", "deg")
    if pos_unit != "deg":
        raise InputError(source, f"2Theta positions in {pos_unit!r}, expected deg")
    listed = _child(positions, "listPositions")
    start, end = _child(positions, "startPosition"), _child(positions, "endPosition")
    if listed is not None:
        two_theta = _xml_numbers(listed, source, "listPositions")
        if two_theta.size != n:
            raise InputError(source, f"{two_theta.size} 2Theta positions for {n} counts")
    elif start is not None and end is not None:
        lo = _xml_number(_text(positions, "startPosition"), source, "2Theta <startPosition>")
        hi = _xml_number(_text(positions, "endPosition"), source, "2Theta <endPosition>")
        if lo is None or hi is None:
            raise InputError(source, "2Theta <startPosition>/<endPosition> is empty")
        two_theta = np.linspace(lo, hi, n)
    else:
        common = _text(positions, "commonPosition")
        raise InputError(source, f"2Theta does not move in this scan (scanAxis={scan.get('scanAxis')!r}, 2Theta fixed at "
                                 f"{common}): not a powder pattern")

    # counting time
    counting_time: float | np.ndarray | None = None
    common_time = _child(points, "commonCountingTime")
    if common_time is not None:
        counting_time = _xml_number((common_time.text or "").strip() or None, source, "<commonCountingTime>")
    else:
        times = _child(points, "countingTimes")
        if times is not None:
            counting_time = _xml_numbers(times, source, "countingTimes")
            if counting_time.size != n:
                raise InputError(source, f"{counting_time.size} counting times for {n} counts")
    if counting_time is not None and np.any(np.asarray(counting_time) <= 0):
        raise InputError(source, "counting time must be positive")

    info = _wavelength_info(measurement, root)
    metadata = {
        "format": "xrdml",
        "namespace": root.tag[1:].split("}")[0] if root.tag.startswith("{") else "",
        "counts_element": counts_tag,
        "counting_time_s": counting_time,
        "scan_axis": scan.get("scanAxis"),
        "scan_mode": scan.get("mode"),
        "scan_status": status,
        "scan_index": scan_index,
        "n_scans": len(scans),
        "measurement_type": measurement.get("measurementType"),
        "sample_mode": measurement.get("sampleMode"),
        "wavelength": info,
        "notes": notes,
    }
    header = _descendant(scan, "header")
    if header is not None:
        for tag in ("startTimeStamp", "endTimeStamp"):
            metadata[tag] = _text(header, tag)
        src = _child(header, "source")
        if src is not None:
            metadata["instrument"] = _text(src, "instrumentControlSoftware")
            metadata["application"] = _text(src, "applicationSoftware")
    sample = _child(root, "sample")
    if sample is not None:
        metadata["sample_id"] = _text(sample, "id")
        metadata["sample_name"] = _text(sample, "name")
    incident = _child(measurement, "incidentBeamPath")
    radius = _text(incident, "radius") if incident is not None else None
    if radius is not None:
        metadata["goniometer_radius_mm"] = _xml_number(radius, source, "incident beam <radius>")
    comments = [e.text.strip() for e in root.iter() if _local(e.tag) == "entry" and e.text and e.text.strip()]
    metadata["comments"] = comments[:50]
    return PowderData(two_theta, counts, sigma, source, wavelength_text(info), metadata, kind=kind)
