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

Why no library: xrayutilities' XRDML reader (``xrayutilities.io.XRDMLFile``) divides every scan by the
counting time (the raw counts needed for Poisson weights are lost for ``<intensities>``), reads no
wavelength, and fails with AttributeError/ValueError on a missing element; xylib (LGPL, C++ with Python
bindings) reads ``<intensities>`` only (``<counts>`` is in an unmerged pull request) and no wavelength;
xrdtools 0.1.1 (2018) is unmaintained.

Every problem becomes an :class:`~argyrodb.core.errors.InputError` whose source is the file or
``file:line`` and whose message is one line: a non-numeric data line, a wrong number of columns, NaN or
infinity, fewer than :data:`MIN_POINTS` points, 2theta not strictly increasing or outside 0-180 deg,
negative counts, sigma <= 0, malformed XML, an XRDML file without a 2theta scan.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import read_bytes_file, read_text_file
from .scattering import WavelengthComponent

#: Fewest points a pattern may have.
MIN_POINTS = 10
#: Most points a pattern may have (a 0.001 deg step over 0-180 deg is 180,000).
MAX_POINTS = 2_000_000
#: Largest file read (bytes).
MAX_BYTES = 200_000_000
#: Extensions of each format.
TEXT_EXTENSIONS = (".xy", ".dat", ".txt")
FORMATS = {".xy": "xy", ".dat": "xy", ".txt": "xy", ".xye": "xye", ".csv": "csv", ".xrdml": "xrdml"}
#: What ``PowderData.kind`` may be.
KINDS = ("counts", "counts_per_second", "intensity")

_COMMENT_STARTS = ("#", "!", ";")
_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class PowderData:
    """A measured powder pattern. The arrays are read-only.

    ``kind`` says what ``counts`` holds: ``"counts"`` (detector counts, Poisson statistics apply),
    ``"counts_per_second"`` (an XRDML file whose intensities are in cps; :meth:`counts_total` gives counts
    back when the counting time is known) or ``"intensity"`` (a text file: units not stated, taken as
    counts for Poisson weights unless the file gives sigma).
    """

    two_theta_deg: np.ndarray  # strictly increasing, within (0, 180)
    counts: np.ndarray  # >= 0, finite
    sigma: np.ndarray | None  # > 0, from the file (xye, 3-column csv, attenuated XRDML counts) or None
    source: str  # the file path
    wavelength: str | None  # e.g. "Cu K-alpha1 1.540598 A, K-alpha2 1.544426 A, K-alpha2/K-alpha1 0.5"
    metadata: dict = field(default_factory=dict)
    kind: str = "intensity"

    def __post_init__(self):
        for name in ("two_theta_deg", "counts", "sigma"):
            value = getattr(self, name)
            if value is not None:
                array = np.array(value, dtype=float)
                array.setflags(write=False)
                object.__setattr__(self, name, array)
        if self.kind not in KINDS:
            raise ParameterError("kind", f"unknown kind {self.kind!r} (one of {', '.join(KINDS)})")
        _check_arrays(self.two_theta_deg, self.counts, self.sigma, self.source)

    @property
    def name(self) -> str:
        """The file's name without folder and extension."""
        return Path(self.source).stem

    @property
    def n_points(self) -> int:
        return int(self.two_theta_deg.size)

    @property
    def two_theta_range(self) -> tuple[float, float]:
        return float(self.two_theta_deg[0]), float(self.two_theta_deg[-1])

    @property
    def counting_time_s(self) -> float | np.ndarray | None:
        """Counting time per point (s) when the file gives it (XRDML), else None."""
        return self.metadata.get("counting_time_s")

    def counts_per_second(self) -> np.ndarray | None:
        """Counts divided by the counting time (or the counts themselves when already in cps); None when
        the time is unknown."""
        if self.kind == "counts_per_second":
            return self.counts
        time = self.counting_time_s
        return None if time is None else self.counts / np.asarray(time, dtype=float)

    def counts_total(self) -> np.ndarray | None:
        """Counts (Poisson statistics): the counts themselves, or counts/s times the counting time; None
        for cps data without a counting time."""
        if self.kind != "counts_per_second":
            return self.counts
        time = self.counting_time_s
        return None if time is None else self.counts * np.asarray(time, dtype=float)

    def wavelength_components(self) -> list[WavelengthComponent] | None:
        """The file's wavelengths as components for :mod:`argyrodb.physics.xrd` (``wavelength=`` of
        ``peak_arrays``): K-alpha1 (weight 1) and K-alpha2 (weight = the file's ratio), or K-alpha1 alone
        when the file has no K-alpha2 or the incident beam has a monochromator; None when the file states
        no wavelength (text formats)."""
        info = self.metadata.get("wavelength") or {}
        ka1 = info.get("kalpha1_angstrom")
        if ka1 is None:
            return None
        anode = info.get("anode") or ""
        components = [WavelengthComponent(ka1, 1.0, f"{anode}Ka1")]
        ka2, ratio = info.get("kalpha2_angstrom"), info.get("ratio_kalpha2_kalpha1")
        if ka2 is not None and ratio and not info.get("incident_monochromator"):
            components.append(WavelengthComponent(ka2, ratio, f"{anode}Ka2"))
        return components

    def select(self, two_theta_range: tuple[float, float], min_points: int = MIN_POINTS) -> PowderData:
        """The points with lo <= 2theta <= hi (refused when fewer than ``min_points`` remain)."""
        lo, hi = (float(v) for v in two_theta_range)
        if not lo < hi:
            raise ParameterError("two_theta_range", f"minimum {lo:g} must be below maximum {hi:g}")
        keep = (self.two_theta_deg >= lo) & (self.two_theta_deg <= hi)
        if keep.sum() < min_points:
            raise ParameterError("two_theta_range", f"only {int(keep.sum())} of the {self.n_points} measured points lie in "
                                                    f"{lo:g}-{hi:g} deg (need at least {min_points})")
        time = self.counting_time_s
        metadata = dict(self.metadata)
        if isinstance(time, np.ndarray):
            metadata["counting_time_s"] = time[keep]
        return replace(self, two_theta_deg=self.two_theta_deg[keep], counts=self.counts[keep],
                       sigma=None if self.sigma is None else self.sigma[keep], metadata=metadata)


def _check_arrays(x: np.ndarray, y: np.ndarray, sigma: np.ndarray | None, source: str) -> None:
    """Whole-array checks (the readers check line by line first, naming the line)."""
    if x.ndim != 1 or x.shape != y.shape or (sigma is not None and sigma.shape != x.shape):
        raise InputError(source, "2theta, counts and sigma must be 1-D arrays of one length")
    if x.size < MIN_POINTS:
        raise InputError(source, f"only {x.size} data points (need at least {MIN_POINTS})")
    if x.size > MAX_POINTS:
        raise InputError(source, f"{x.size} data points, more than {MAX_POINTS}")
    for label, values in (("2theta", x), ("counts", y), ("sigma", sigma)):
        if values is not None and not np.all(np.isfinite(values)):
            raise InputError(source, f"{label} values must be finite (point {int(np.argmin(np.isfinite(values))) + 1} is not)")
    steps = np.diff(x)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0)) + 1
        raise InputError(source, f"2theta values must increase strictly: point {i + 1} ({x[i]:g}) after {x[i - 1]:g}")
    if not (x[0] > 0 and x[-1] < 180):
        raise InputError(source, f"2theta values must lie between 0 and 180 degrees (file has {x[0]:g}-{x[-1]:g})")
    if np.any(y < 0):
        i = int(np.argmax(y < 0))
        raise InputError(source, f"counts must not be negative (point {i + 1}: {y[i]:g})")
    if sigma is not None and np.any(sigma <= 0):
        i = int(np.argmax(sigma <= 0))
        raise InputError(source, f"sigma must be positive (point {i + 1}: {sigma[i]:g})")


# --------------------------------------------------------------------------- entry point


def read_powder_data(path: str | Path, fmt: str | None = None, scan: int | None = None) -> PowderData:
    """Read a measured powder pattern (see the module docstring for the formats).

    ``fmt`` overrides the extension ('xy', 'xye', 'csv' or 'xrdml'); ``scan`` picks one scan of an XRDML
    file with several (0 = the first, the default)."""
    path = Path(path)
    if fmt is None:
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(path, f"unknown pattern format {path.suffix or '(no extension)'!r}: expected "
                                   f"{', '.join(sorted(FORMATS))}")
    elif fmt not in set(FORMATS.values()):
        raise ParameterError("fmt", f"unknown format {fmt!r} (one of xy, xye, csv, xrdml)")
    if scan is not None and fmt != "xrdml":
        raise ParameterError("scan", "only an XRDML file has several scans")
    if fmt == "xrdml":
        return _read_xrdml(path, 0 if scan is None else scan)
    return _read_columns(path, fmt)


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
        if y < 0:
            raise InputError(where, f"negative counts {y:g}")
        if n_columns == 3 and values[2] <= 0:
            raise InputError(where, f"sigma must be positive, got {values[2]:g}")
        previous_x = x
        rows.append(values)
        if len(rows) > MAX_POINTS:
            raise InputError(source, f"more than {MAX_POINTS} data points")
    if len(rows) < MIN_POINTS:
        raise InputError(source, f"only {len(rows)} data points (need at least {MIN_POINTS})")
    data = np.array(rows, dtype=float)
    metadata = {"format": fmt, "columns": n_columns, "header": header, "comments": comments}
    sigma = data[:, 2] if n_columns == 3 else None
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


def _wavelength_text(info: dict) -> str | None:
    ka1 = info.get("kalpha1_angstrom")
    if ka1 is None:
        return None
    words = [f"{info.get('anode', '')} K-alpha1 {ka1:.7g} A".strip()]
    if info.get("kalpha2_angstrom") is not None:
        words.append(f"K-alpha2 {info['kalpha2_angstrom']:.7g} A")
    if info.get("ratio_kalpha2_kalpha1") is not None:
        words.append(f"K-alpha2/K-alpha1 {info['ratio_kalpha2_kalpha1']:g}")
    if info.get("incident_monochromator"):
        words.append(f"incident monochromator {info['incident_monochromator']}")
    return ", ".join(words)


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
    return PowderData(two_theta, counts, sigma, source, _wavelength_text(info), metadata, kind=kind)
