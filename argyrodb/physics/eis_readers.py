"""Reading impedance spectra from instrument files and text tables (issue 22, item 1).

One entry point, :func:`read`, returns a :class:`Spectrum` (frequency in Hz, complex Z = Z' + jZ'' in ohm) that
records which instrument the file came from, which reader read it and what the reader had to decide:

* **instrument exports** are recognised by their content (and extension), each read by the matching reader of
  impedance.py (``impedance.preprocessing``): BioLogic EC-Lab ``.mpt`` ("EC-Lab ASCII FILE", "Nb header lines"),
  Gamry ``.DTA`` ("EXPLAIN" and a ``ZCURVE`` table), Scribner ZPlot/ZView ``.z`` ("ZPLOT2 ASCII", "ZPlotW Data
  File", "End Comments"), Autolab (impedance.py's ``readAutolab`` layout, "Z60W Data File"), Parstat, VersaStudio
  ``.par`` (``<Segment1>`` with ``Definition=``), PowerSuite and CH Instruments ("A.C. Impedance", ``Freq/Hz``).
  Those readers take columns by position, so the header the file writes is checked first: a file whose columns
  at those positions are not frequency, Z' and Z'' is refused, never read;
* **BioLogic binary** ``.mpr`` through galvani (``galvani.BioLogic.MPRfile``), columns by name;
* **text tables** (CSV, TSV, ``;`` or whitespace separated; anything not recognised above) by
  :func:`read_table`: every column by its header's name and unit, never by position.

A file whose columns cannot be identified raises :class:`~argyrodb.core.errors.InputError` naming the file, the
line and the ambiguity (one line; the CLI exits 2). Nothing here guesses silently: every decision a reader took
(a unit assumed, a footer skipped, rows dropped, a sweep chosen) is in ``Spectrum.notes``.
"""

from __future__ import annotations

import locale
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import read_bytes_file

#: The reader of plain text tables, as recorded in ``Spectrum.reader``.
TABLE_READER = "argyrodb.physics.eis_readers.read_table"
MPR_READER = "galvani.BioLogic.MPRfile"


@dataclass
class Spectrum:
    """An impedance spectrum: frequencies (Hz) and complex impedances Z = Z' + jZ'' (ohm; a capacitive arc has
    Z'' < 0), with where it came from: ``instrument`` (the file's format), ``reader`` (the function that read it),
    ``source`` (the file), ``notes`` (what the reader decided: units assumed, rows dropped, a footer skipped, the
    sweep read) and the sample geometry when the file gives it (``thickness_cm``, ``area_cm2``; None otherwise)."""

    name: str
    frequency_hz: np.ndarray
    z: np.ndarray  # complex impedance, ohm (Z' + j Z'')
    instrument: str = ""
    reader: str = ""
    source: str = ""
    notes: list[str] = field(default_factory=list)
    thickness_cm: float | None = None
    area_cm2: float | None = None

    def info(self) -> dict:
        """What was read, for reports and ``--json``: the arrays' size and range, not the arrays."""
        f = np.asarray(self.frequency_hz, dtype=float)
        return {"source": self.source, "instrument": self.instrument, "reader": self.reader,
                "n_points": int(f.size),
                "frequency_range_hz": [float(f.min()), float(f.max())] if f.size else None,
                "thickness_cm": self.thickness_cm, "area_cm2": self.area_cm2, "notes": list(self.notes)}


def read(path: str | Path, sweep: int | None = None) -> Spectrum:
    """The spectrum in ``path``, read by the reader its content calls for (see the module's docstring).

    ``sweep`` (1 = the first) chooses one of several sweeps (EC-Lab cycles) of a BioLogic file; such a file is
    refused without it. The arrays are returned as the file orders them; :func:`argyrodb.physics.eis.read_spectrum`
    then checks them (positive distinct frequencies, finite non-zero Z)."""
    path = Path(path)
    if sweep is not None and (isinstance(sweep, bool) or not isinstance(sweep, int) or sweep < 1):
        raise ParameterError("sweep", f"must be a whole number from 1, not {sweep!r}")
    data = read_bytes_file(path)
    if data.startswith(b"BIO-LOGIC MODULAR FILE"):
        return _read_mpr(path, data, sweep)
    if path.suffix.lower() == ".mpr":
        raise InputError(path, "not a BioLogic .mpr file (it does not start with 'BIO-LOGIC MODULAR FILE')")
    if _binary(data):
        raise InputError(path, "a binary file: not an impedance format argyrodb reads (BioLogic .mpr, "
                               "instrument text exports, text tables)")
    text, encoding = _decode(data)
    lines = _lines(text)
    kind = _detect(lines, path.suffix.lower())
    if kind is None:
        spectrum = read_table(path, text=text)
        if encoding != "utf-8":
            spectrum.notes.insert(0, f"read as {encoding} (not UTF-8)")
    else:
        spectrum = _read_instrument(kind, path, data, text, lines, sweep)
    if kind != "biologic" and sweep not in (None, 1):
        raise ParameterError("sweep", f"{path}: holds one sweep; there is no sweep {sweep}")
    return spectrum


def _binary(data: bytes) -> bool:
    """NUL bytes near the start and no UTF-16 byte-order mark: not a text export."""
    return b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff"))


def text_lines(path: str | Path) -> list[str] | None:
    """The lines of a text export as :func:`read` decodes and splits them (UTF-16 with its mark, UTF-8, Latin-1;
    universal newlines), or None for a binary file (a BioLogic .mpr): for readers of the header beside the data."""
    data = read_bytes_file(Path(path))
    if data.startswith(b"BIO-LOGIC MODULAR FILE") or _binary(data):
        return None
    return _lines(_decode(data)[0])


def _decode(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and its encoding: UTF-16 when it starts with its byte-order mark, else UTF-8 (a
    byte-order mark dropped), else Latin-1 (ISO-8859-1), which EC-Lab and Gamry write and which decodes any byte.
    Line ends are kept as written."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return body.decode("latin-1"), "latin-1"


def _lines(text: str) -> list[str]:
    """The lines of ``text`` as a file opened in text mode gives them (universal newlines: LF, CR LF, CR), so line
    numbers agree with impedance.py's readers; ``str.splitlines`` would also split at \\x85 (a Latin-1-decoded
    cp1252 ellipsis), \\x0c or \\u2028."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


# --- instrument exports through impedance.py ------------------------------------------------------------------


@dataclass(frozen=True)
class _Instrument:
    name: str  # as recorded in Spectrum.instrument
    function: str  # impedance.preprocessing.<function>
    encoding: str | None  # how that function opens the file (None: the locale's encoding)


_INSTRUMENTS = {
    "biologic": _Instrument("BioLogic EC-Lab text export (.mpt)", "readBioLogic", "latin-1"),
    "gamry": _Instrument("Gamry Framework (.DTA)", "readGamry", "iso-8859-1"),
    "zplot": _Instrument("Scribner ZPlot/ZView (.z)", "readZPlot", "utf-8"),
    "autolab": _Instrument("Autolab (ZView-type text export)", "readAutolab", "utf-8"),
    "parstat": _Instrument("Parstat (text export)", "readParstat", None),
    "versastudio": _Instrument("VersaStudio (.par)", "readVersaStudio", "utf-8"),
    "powersuite": _Instrument("PowerSuite (text export)", "readPowerSuite", None),
    "chinstruments": _Instrument("CH Instruments (text export)", "readCHInstruments", None),
}

_PARSTAT_HEADER = ["potential (v)", "current (a)", "elapsed time (s)", "frequency (hz)", "zre (ohms)", "zim (ohms)"]


def _detect(lines: list[str], suffix: str) -> str | None:
    """The instrument whose export ``lines`` are, from their signature lines; None for a text table."""
    head = [line.strip().strip('"').strip() for line in lines[:40]]
    first = head[0] if head else ""
    if (first.startswith(("EC-Lab ASCII FILE", "BT-Lab ASCII FILE"))
            and len(head) > 1 and head[1].lower().startswith("nb header lines")):
        return "biologic"
    if first == "EXPLAIN" or (suffix == ".dta" and any(line.startswith("ZCURVE") for line in lines)):
        return "gamry"
    if first.startswith(("ZPLOT2 ASCII", "ZPlotW Data File")):
        return "zplot"
    if first.startswith("Z60W Data File"):
        return "autolab"
    if suffix == ".z" and any("End Comments" in line for line in lines) and any("Freq(Hz)" in line for line in lines):
        return "zplot"
    if [c.strip().lower() for c in first.split("\t")][:6] == _PARSTAT_HEADER:
        return "parstat"
    if any(line.strip() == "<Segment1>" for line in lines) and any(line.startswith("Definition=") for line in lines):
        return "versastudio"
    if [c.strip() for c in first.split("\t")] == ["Frequency", "Zre", "Zimg"]:
        return "powersuite"
    if any(line.strip() == "A.C. Impedance" for line in head) and any(line.startswith("Freq/Hz") for line in lines):
        return "chinstruments"
    return None


def _split_labels(line: str) -> list[str]:
    """Header names of a line separated by tabs, commas or runs of spaces, a parenthesised unit kept with its name
    ("Freq (Hz)")."""
    text = line.strip().strip('"').strip()
    if "\t" in text:
        parts = text.split("\t")
    elif "," in text:
        parts = text.split(",")
    else:
        parts = []
        for token in text.split():
            if parts and re.fullmatch(r"[(\[].*[)\]]", token):
                parts[-1] += " " + token
            else:
                parts.append(token)
    return [p.strip().strip('"').strip() for p in parts]


def _expect(path: Path, instrument: _Instrument, labels: list[str], expected: dict[int, tuple[str, ...]],
            line_number: int) -> None:
    """Refuse unless ``labels`` (a header line) names, at each position the reader takes by position, one of the
    expected names (compared without case and spaces)."""
    def norm(text: str) -> str:
        return re.sub(r"\s+", "", text).lower()

    wrong = [(i, labels[i] if i < len(labels) else None) for i, names in expected.items()
             if i >= len(labels) or norm(labels[i]) not in {norm(n) for n in names}]
    if wrong:
        found = ", ".join(f"column {i + 1} is {label!r}" if label is not None else f"no column {i + 1}" for i, label in wrong)
        wanted = ", ".join(f"{i + 1}: {names[0]!r}" for i, names in expected.items())
        raise InputError(path, f"line {line_number}: a {instrument.name} file whose header does not match the layout "
                               f"impedance.py's {instrument.function} reads by position ({wanted}): {found}")


def _last_index(lines: list[str], test: Callable[[str], bool]) -> int | None:
    found = None
    for i, line in enumerate(lines):
        if test(line):
            found = i
    return found


def _check_layout(kind: str, path: Path, lines: list[str]) -> tuple[int, list[str]]:
    """Check the header of an instrument export against what its impedance.py reader assumes; return the index of
    the first line after the header part (for the geometry search) and notes."""
    instrument = _INSTRUMENTS[kind]
    notes: list[str] = []
    if kind == "biologic":
        try:
            n_header = int(lines[1].split(":")[1])
        except (IndexError, ValueError):
            raise InputError(path, "line 2: an EC-Lab file without a readable 'Nb header lines : N'") from None
        if not 2 <= n_header <= len(lines):
            raise InputError(path, f"line 2: 'Nb header lines : {n_header}' but the file has {len(lines)} lines")
        return n_header - 1, notes
    if kind == "gamry":
        start = _last_index(lines, lambda line: "ZCURVE" in line)
        if start is None:
            tag = next((line.split("\t")[1] for line in lines[:5] if line.startswith("TAG\t") and "\t" in line), "?")
            raise InputError(path, f"a Gamry file without a ZCURVE table: not an impedance measurement (TAG {tag})")
        names = lines[start + 1].split() if start + 1 < len(lines) else []
        units = lines[start + 2].split() if start + 2 < len(lines) else []
        _expect(path, instrument, names, {2: ("Freq",), 3: ("Zreal",), 4: ("Zimag",)}, start + 2)
        _expect(path, instrument, units, {2: ("Hz",), 3: ("ohm",), 4: ("ohm",)}, start + 3)
        if any("EXPERIMENTABORTED" in line for line in lines):
            notes.append("the run was aborted (EXPERIMENTABORTED): the points measured before are read")
        return start, notes
    if kind in ("zplot", "autolab"):
        marker = "Freq(Hz)" if kind == "zplot" else "Freq"
        header = _last_index(lines, lambda line: marker in line)
        if header is None:
            raise InputError(path, f"a {instrument.name} file without a '{marker}' header line")
        labels = _split_labels(lines[header])
        _expect(path, instrument, labels, {0: ("Freq(Hz)", "Freq (Hz)"), 4: ("Z'(a)",), 5: ("Z''(b)",)}, header + 1)
        end = _last_index(lines, lambda line: "End Comments" in line) if kind == "zplot" else None
        return header if end is None else min(header, end), notes
    if kind == "parstat":
        _expect(path, instrument, lines[0].split("\t"),
                {3: ("Frequency (Hz)",), 4: ("Zre (ohms)",), 5: ("Zim (ohms)",)}, 1)
        return 1, notes
    if kind == "versastudio":
        segment = next(i for i, line in enumerate(lines) if line.strip() == "<Segment1>")
        definition = next((i for i in range(segment, len(lines)) if lines[i].startswith("Definition=")), None)
        if definition is None or definition != segment + 3:
            raise InputError(path, f"line {segment + 1}: <Segment1> without 'Definition=' three lines below it, "
                                   f"where impedance.py's {instrument.function} expects it")
        labels = [c.strip() for c in lines[definition][len("Definition="):].split(",")]
        _expect(path, instrument, labels, {9: ("Frequency(Hz)",), 14: ("Z Real",), 15: ("Z Imag",)}, definition + 1)
        return segment, notes
    if kind == "powersuite":
        return 1, notes  # detected by its exact header: Frequency, Zre, Zimg
    # CH Instruments
    header = _last_index(lines, lambda line: line.startswith("Freq/Hz"))
    assert header is not None  # detected by it
    _expect(path, instrument, _split_labels(lines[header]), {0: ("Freq/Hz",), 1: ("Z'/ohm",), 2: ('Z"/ohm', "Z''/ohm")},
            header + 1)
    return header, notes


def _read_instrument(kind: str, path: Path, data: bytes, text: str, lines: list[str], sweep: int | None) -> Spectrum:
    """An instrument export read by impedance.py's reader for it, after its header was checked."""
    from impedance import preprocessing

    instrument = _INSTRUMENTS[kind]
    header_end, notes = _check_layout(kind, path, lines)
    reader = getattr(preprocessing, instrument.function)
    encoding = instrument.encoding or locale.getpreferredencoding(False)
    try:
        data.decode(encoding)  # numbers and the names the reader looks for are ASCII: any decoding that succeeds reads them
        readable = True
    except (UnicodeDecodeError, LookupError):
        readable = False
    errors = (ValueError, IndexError, NameError, AssertionError, KeyError, TypeError, ZeroDivisionError)
    try:
        if readable:
            f, z = reader(str(path))
        else:
            # the reader opens files in an encoding this file is not in (a Latin-1 file, a UTF-8 reader): it reads
            # a copy in that encoding (characters it cannot hold, in header lines only, become '?'), removed after
            with tempfile.TemporaryDirectory(prefix="argyrodb-eis-") as folder:
                copy = Path(folder) / path.name
                copy.write_bytes(text.encode(encoding, errors="replace"))
                f, z = reader(str(copy))
            notes.append(f"{instrument.function} opens files as {encoding}, which this file is not: it read a "
                         f"{encoding} copy")
    except errors as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(path, f"a {instrument.name} file that impedance.py's {instrument.function} cannot read: "
                               f"{message}") from None
    f = np.asarray(f, dtype=float)
    z = np.asarray(z, dtype=complex)
    if kind == "parstat":
        dropped = sum(1 for line in lines[1:] if len(line.split()) > 3 and _is_zero(line.split()[3]))
        if dropped:
            notes.append(f"{dropped} rows with frequency 0 (DC measurements, not impedance) dropped")
    if kind == "biologic":
        f, z = _biologic_sweep(path, lines, header_end, f, z, sweep, notes)
    spectrum = Spectrum(path.stem, f, z, instrument.name, f"impedance.preprocessing.{instrument.function}",
                        str(path), notes)
    _geometry(spectrum, list(enumerate(lines[:header_end], start=1)), gamry=kind == "gamry")
    return spectrum


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False


def _biologic_sweep(path: Path, lines: list[str], header_index: int, f: np.ndarray, z: np.ndarray,
                    sweep: int | None, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of one sweep of an EC-Lab text export: its ``cycle number`` column, as for ``.mpr`` files."""
    labels = lines[header_index].split("\t")
    if "cycle number" not in labels:
        return _one_sweep(path, f, z, None, sweep, notes)
    column = labels.index("cycle number")
    rows = lines[header_index + 1:header_index + 1 + f.size]
    try:
        cycles = np.array([float(row.split("\t")[column]) for row in rows])
    except (IndexError, ValueError):
        raise InputError(path, "the 'cycle number' column is not a number on every row") from None
    return _one_sweep(path, f, z, cycles, sweep, notes)


def _one_sweep(path: Path, f: np.ndarray, z: np.ndarray, cycles: np.ndarray | None, sweep: int | None,
               notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The points of sweep ``sweep`` (1-based, in file order) of a file whose rows carry a cycle number; a file
    with several sweeps is refused without ``sweep``."""
    if cycles is None or cycles.size == 0:
        if sweep not in (None, 1):
            raise ParameterError("sweep", f"{path}: holds one sweep; there is no sweep {sweep}")
        return f, z
    _, first_rows = np.unique(cycles, return_index=True)
    order = cycles[np.sort(first_rows)]  # the cycle numbers in the order they appear
    if order.size == 1:
        if sweep not in (None, 1):
            raise ParameterError("sweep", f"{path}: holds one sweep; there is no sweep {sweep}")
        return f, z
    names = f"cycle number {order[0]:g} to {order[-1]:g}"
    if sweep is None:
        raise InputError(path, f"{order.size} sweeps ({names}); choose one with --sweep K (sweep=K in Python), "
                               f"K = 1 to {order.size}")
    if sweep > order.size:
        raise ParameterError("sweep", f"{path} has {order.size} sweeps ({names}); there is no sweep {sweep}")
    keep = cycles == order[sweep - 1]
    notes.append(f"sweep {sweep} of {order.size} (cycle number {order[sweep - 1]:g}): {int(keep.sum())} of {f.size} points")
    return f[keep], z[keep]


# --- BioLogic binary .mpr through galvani ---------------------------------------------------------------------


def _read_mpr(path: Path, data: bytes, sweep: int | None) -> Spectrum:
    """A BioLogic ``.mpr`` file through galvani: the columns ``freq/Hz``, ``Re(Z)/Ohm`` and ``-Im(Z)/Ohm`` by name,
    one sweep (``cycle number``) of it."""
    import io

    try:
        from galvani.BioLogic import MPRfile
    except ImportError:
        raise InputError(path, "reading BioLogic .mpr files needs galvani (pip install galvani)") from None
    try:
        mpr = MPRfile(io.BytesIO(data))
    except (ValueError, AssertionError, NotImplementedError, OSError, IndexError, KeyError, TypeError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(path, f"a BioLogic .mpr file galvani cannot read: {message}") from None
    names = mpr.data.dtype.names or ()
    missing = [n for n in ("freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm") if n not in names]
    if missing:
        raise InputError(path, f"a BioLogic .mpr file without the impedance columns {', '.join(missing)} "
                               f"(it has {', '.join(names[:8])}{'...' if len(names) > 8 else ''})")
    notes: list[str] = []
    f = np.asarray(mpr.data["freq/Hz"], dtype=float)
    z = np.asarray(mpr.data["Re(Z)/Ohm"], dtype=float) - 1j * np.asarray(mpr.data["-Im(Z)/Ohm"], dtype=float)
    cycles = np.asarray(mpr.data["cycle number"], dtype=float) if "cycle number" in names else None
    measured = f > 0
    if not measured.all():
        notes.append(f"{int((~measured).sum())} rows with frequency 0 (not impedance points) dropped")
        f, z = f[measured], z[measured]
        cycles = cycles[measured] if cycles is not None else None
    f, z = _one_sweep(path, f, z, cycles, sweep, notes)
    return Spectrum(path.stem, f, z, "BioLogic EC-Lab binary (.mpr)", MPR_READER, str(path), notes)


# --- plain text tables, columns by header name and unit -------------------------------------------------------

#: Header names of each quantity, compared in lower case with runs of spaces as one ("Re(Z)", "Zs'", "Z_real"...).
_NAMES = {
    "f": ["frequency", "freq.", "freq", "f"],
    "re": ["z'", "zs'", "zre", "z_re", "z re", "re(z)", "re z", "re_z", "rez", "z_real", "z real", "zreal", "real(z)",
           "real", "re", "zr", "z_r"],
    "im": ["z''", "zs''", "zim", "z_im", "z im", "im(z)", "im z", "im_z", "imz", "z_imag", "z imag", "zimag", "imag(z)",
           "imag", "im", "zi", "z_i", "zimg", "z_img", "z img"],
    "mod": ["|z|", "mod(z)", "zmod", "z_mod", "abs(z)", "z_abs", "modulus", "magnitude", "impedance", "z"],
    "phase": ["phase(z)", "phase angle", "phase", "zphz", "phz", "arg(z)", "phi", "theta"],
}
_NAME_TO_KIND = {name: kind for kind, names in _NAMES.items() for name in names}
_LABEL = re.compile(
    r"(?P<sign>-|minus[ _]?|neg[ _]?)?"
    r"(?P<name>" + "|".join(re.escape(n) for n in sorted(_NAME_TO_KIND, key=len, reverse=True)) + r")"
    r"(?:\s*[/_]?\s*(?:\((?P<u1>[^()]*)\)|\[(?P<u2>[^\[\]]*)\])"  # "(unit)", "[unit]", "/(unit)"
    r"|(?:\s*[/_]\s*|\s+)(?P<u3>[^\s_()\[\]/,;]+))?")  # "/unit", "_unit", " unit": a separator before a bare unit
#: Unit prefixes, case as written: m milli, M mega.
_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3, "µ": 1e-6, "μ": 1e-6, "u": 1e-6}
_FREQUENCY_UNIT = re.compile(r"(?P<prefix>[kKMGmµμu]?)hz", re.I)
_OHM_UNIT = re.compile(r"(?P<prefix>[kKMGmµμu]?)(?:ohms?|Ω|Ω)", re.I)
_PHASE_UNITS = {"deg": math.pi / 180, "degree": math.pi / 180, "degrees": math.pi / 180, "°": math.pi / 180,
                "º": math.pi / 180, "rad": 1.0, "radian": 1.0, "radians": 1.0}
_BASE = {"f": "Hz", "re": "ohm", "im": "ohm", "mod": "ohm", "phase": "rad"}
_DESCRIPTION = {"f": "frequency", "re": "Z'", "im": "Z''", "mod": "|Z|", "phase": "phase"}


@dataclass
class _Column:
    index: int
    label: str
    kind: str  # f, re, im, mod, phase
    scale: float  # to Hz, ohm or rad
    sign: float
    unit: str | None  # as written; None when the header gives none
    problem: str | None = None  # a unit that is not one of the kind's


def _classify(index: int, label: str) -> _Column | None:
    """The quantity a header name stands for, with its unit's factor and its sign; None for other columns."""
    text = re.sub(r"\s+", " ", label.strip().strip('"').strip())
    text = (text.replace("−", "-").replace("″", "''").replace("′", "'").replace("’", "'")
            .replace('"', "''").replace("`", "'"))
    match = _LABEL.fullmatch(text.lower())
    if match is None:
        return None
    kind = _NAME_TO_KIND[match["name"]]
    # the unit as written (its case matters: m milli, M mega), at the same place in the original text
    unit_lower = match["u1"] if match["u1"] is not None else match["u2"] if match["u2"] is not None else match["u3"]
    unit = None
    if unit_lower is not None:
        group = "u1" if match["u1"] is not None else "u2" if match["u2"] is not None else "u3"
        unit = text[match.start(group):match.end(group)].strip() or None
    sign = -1.0 if match["sign"] else 1.0
    column = _Column(index, label.strip(), kind, 1.0, sign, unit)
    if kind in ("f", "re") and sign < 0:
        column.problem = f"a negated {_DESCRIPTION[kind]}"
        return column
    if unit is None:
        if kind == "phase":
            column.problem = "no unit (deg or rad?)"
        return column
    if kind == "f":
        unit_match = _FREQUENCY_UNIT.fullmatch(unit)
    elif kind == "phase":
        factor = _PHASE_UNITS.get(unit.lower())
        if factor is None:
            column.problem = f"unknown phase unit {unit!r} (deg, °, rad)"
        else:
            column.scale = factor
        return column
    else:
        unit_match = _OHM_UNIT.fullmatch(unit)
    if unit_match is None:
        known = "Hz, kHz, MHz, mHz" if kind == "f" else "Ohm/Ω, kOhm/kΩ, MOhm/MΩ, mOhm/mΩ"
        column.problem = f"unknown unit {unit!r} ({known})"
    else:
        column.scale = _PREFIX[unit_match["prefix"]]
    return column


_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)", re.I)


def _looks_numeric(line: str) -> bool:
    """A line of numbers only (whatever the separator and decimal mark)."""
    tokens = [t.strip('"') for t in re.split(r"[\t;, ]+", line.strip()) if t]
    return bool(tokens) and all(_NUMBER.fullmatch(t) for t in tokens) and any(c.isdigit() for c in line)


def _is_comment(line: str) -> bool:
    return line.startswith(("#", "%", "//"))


def _fields(line: str, separator: str | None) -> list[str]:
    """The fields of a stripped line; trailing empty fields (a separator at the end) dropped."""
    parts = line.split() if separator is None else [p.strip().strip('"').strip() for p in line.split(separator)]
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _header_fields(line: str, separator: str | None) -> list[str]:
    """Names of a header line; with space-separated columns a bracketed unit stays with its name ("Z' (Ohm)")."""
    if separator is not None:
        return _fields(line, separator)
    parts: list[str] = []
    for token in line.split():
        if parts and (re.fullmatch(r"[(\[].*[)\]]", token) or token.startswith("/")):
            parts[-1] += " " + token
        else:
            parts.append(token)
    return [p.strip('"') for p in parts]


_SEPARATOR_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma", None: "whitespace"}


def read_table(path: str | Path, text: str | None = None) -> Spectrum:
    """A text table of an impedance spectrum, every column identified by its header's name and unit.

    * Separators: tab, ``;``, ``,`` or runs of spaces (from the first data line). With tab or ``;`` separators,
      numbers may use a decimal comma (``1,0000E+06;3,6038E+03``); a comma in space-separated numbers, a number
      with both ``,`` and ``.``, or a file mixing both marks is refused: the comma could be either.
    * The header is the last line before the data that is neither a number line nor a comment (``#``, ``%``,
      ``//``; a comment line right above the data is taken when it names the columns, as impedance.py's
      ``saveCSV`` writes ``# freq,Re(Z),Im(Z)``). Lines above it are read for the sample geometry only.
    * Columns: frequency (``freq``, ``frequency``, ``f``; Hz, kHz, MHz, mHz), the real part (``Z'``, ``Zre``,
      ``Re(Z)``, ``Z_real``...; Ohm/Ω with k, M, m prefixes), the imaginary part as ``Z''``/``Im(Z)``... or, with a
      leading ``-`` or ``minus_``, as -Z'' (the sign comes from the header, never from the data); or ``|Z|`` and
      ``phase`` (deg or rad) instead. Units are written as ``name (unit)``, ``name [unit]``, ``name/unit`` or
      ``name_unit``; the prefix's case is read as written (m milli, M mega). A frequency or impedance without a unit
      is taken as Hz or ohm with a note; a phase without one is refused.
    * Refused (InputError naming the file and line): two candidate columns of one quantity, a needed column
      missing, a unit not known, a header naming no known column, more (or fewer) than 3 columns without a header.
      A file of exactly 3 unlabelled columns is read as f (Hz), Z', Z'' (ohm), with a note (the format argyrodb
      documented before headers were read); there only, a third column that is mostly positive is taken as -Z''
      (the Nyquist convention), also noted.
    * The data end at the first line after them that is not numbers (a footer), noted with the lines it skips.
    """
    path = Path(path)
    if text is None:
        text, encoding = _decode(read_bytes_file(path))
        notes = [] if encoding == "utf-8" else [f"read as {encoding} (not UTF-8)"]
    else:
        notes = []
    lines = [line.strip() for line in _lines(text)]
    content = ["" if _is_comment(line) else line.split("#")[0].strip() for line in lines]  # data without comments
    first = next((i for i, line in enumerate(content) if line and _looks_numeric(line)), None)
    if first is None:
        raise InputError(path, "no line of numbers: not a table of frequency and impedance")
    data_lines: list[int] = []
    footer = None
    for i in range(first, len(lines)):
        if not content[i]:
            continue
        if not _looks_numeric(content[i]):
            footer = i
            break
        data_lines.append(i)
    separator = "\t" if "\t" in content[first] else ";" if ";" in content[first] else "," if "," in content[first] else None
    n_columns = len(_fields(content[first], separator))
    decimal_comma = separator in ("\t", ";") and any("," in content[i] for i in data_lines)
    if separator == "," and any(re.search(r"\d\s+\d", f) for f in _fields(content[first], ",")):
        raise InputError(path, f"line {first + 1}: commas between numbers that are also separated by spaces: "
                               "a comma could be a decimal mark or a separator")
    rows = [_parse_row(path, i + 1, content[i], separator, decimal_comma) for i in data_lines]
    for i, row in zip(data_lines, rows):
        if len(row) != n_columns:
            raise InputError(path, f"line {i + 1}: {len(row)} numbers where line {first + 1} has {n_columns}")
    if footer is not None:
        after = sum(1 for line in content[footer + 1:] if line and _looks_numeric(line))
        shown = lines[footer] if len(lines[footer]) <= 60 else lines[footer][:57] + "..."
        notes.append(f"the table ends at line {footer + 1} ({shown!r}): the lines from there on are not read"
                     + (f", {after} of them numbers" if after else ""))

    header_index = next((i for i in range(first - 1, -1, -1) if lines[i] and not _is_comment(lines[i])), None)
    columns, header_line = _identify(path, lines, first, header_index, separator, n_columns, notes)
    data = np.array(rows, dtype=float).reshape(len(rows), n_columns)
    f = data[:, columns["f"].index] * columns["f"].scale
    if "re" in columns:
        z = (data[:, columns["re"].index] * columns["re"].scale
             + 1j * columns["im"].sign * columns["im"].scale * data[:, columns["im"].index])
    else:
        phase = columns["phase"].sign * columns["phase"].scale * data[:, columns["phase"].index]
        z = data[:, columns["mod"].index] * columns["mod"].scale * np.exp(1j * phase)
    if header_line is None and np.mean(z.imag > 0) > 0.5:
        z = z.conj()
        notes.append("no header: the third column is mostly positive, so it was taken as -Z'' (the Nyquist-plot "
                     "convention) and negated")
    if any(line.startswith("Fixed value(s)") for line in lines[:first]):
        instrument = "NEISYS (text export)"
    else:
        instrument = f"text table ({_SEPARATOR_NAMES[separator]}-separated{', decimal comma' if decimal_comma else ''})"
    spectrum = Spectrum(path.stem, f, z, instrument, TABLE_READER, str(path), notes)
    _geometry(spectrum, [(i + 1, lines[i]) for i in range(first)])
    return spectrum


def _parse_row(path: Path, number: int, line: str, separator: str | None, decimal_comma: bool) -> list[float]:
    """The numbers of one data line; a comma that could be a decimal mark or a separator is refused."""
    values = []
    for item in _fields(line, separator):
        if "," in item:
            if not decimal_comma or "." in item:
                where = ("between space-separated columns" if separator is None else
                         "with a decimal point too" if decimal_comma else "in a comma-separated line")
                raise InputError(path, f"line {number}: a comma in {item!r} {where}: it could be a decimal mark "
                                       "or a separator")
            item = item.replace(",", ".")
        elif decimal_comma and "." in item:
            raise InputError(path, f"line {number}: {item!r} has a decimal point where other numbers have a decimal "
                                   "comma")
        if _NUMBER.fullmatch(item) is None:
            raise InputError(path, f"line {number}: {item!r} is not a number")
        values.append(float(item))
    return values


def _identify(path: Path, lines: list[str], first: int, header_index: int | None, separator: str | None,
              n_columns: int, notes: list[str]) -> tuple[dict[str, _Column], int | None]:
    """The columns used (by kind), from the header; the header's line number (None without a header)."""
    candidates: list[tuple[int, list[str], str]] = []
    if header_index is not None:
        candidates.append((header_index, _header_fields(lines[header_index], separator), "header"))
    comment = first - 1
    while comment >= 0 and not lines[comment]:
        comment -= 1
    if comment >= 0 and _is_comment(lines[comment]) and (header_index is None or comment > header_index):
        text = lines[comment].lstrip("#%/").strip()
        candidates.insert(0, (comment, _header_fields(text, separator), "comment"))
    for index, labels, origin in candidates:
        classified = [_classify(i, label) for i, label in enumerate(labels)]
        known = [c for c in classified if c is not None]
        if origin == "comment" and (len(labels) != n_columns or not known):
            continue  # a comment, not a header
        if len(labels) != n_columns:
            if not known:
                notes.append(f"line {index + 1} ({lines[index][:40]!r}) names no column: not taken as a header")
                break
            raise InputError(path, f"line {index + 1}: the header has {len(labels)} names for the {n_columns} columns of "
                                   f"line {first + 1} (a name with spaces in a space-separated file?)")
        if origin == "comment":
            notes.append(f"column names read from comment line {index + 1}")
        return _choose(path, index + 1, labels, known, notes), index + 1
    if n_columns != 3:
        raise InputError(path, f"line {first + 1}: {n_columns} columns and no header naming them: cannot tell which are "
                               "frequency, Z' and Z'' (give the columns names and units)")
    notes.append("no header: the three columns were read as frequency (Hz), Z' (ohm), Z'' (ohm)")
    return {"f": _Column(0, "column 1", "f", 1.0, 1.0, None), "re": _Column(1, "column 2", "re", 1.0, 1.0, None),
            "im": _Column(2, "column 3", "im", 1.0, 1.0, None)}, None


def _choose(path: Path, line_number: int, labels: list[str], known: list[_Column],
            notes: list[str]) -> dict[str, _Column]:
    """One column per needed quantity from the header's identified columns; any ambiguity refused."""
    by_kind: dict[str, list[_Column]] = {}
    for column in known:
        by_kind.setdefault(column.kind, []).append(column)

    def one(kind: str) -> _Column:
        found = by_kind.get(kind, [])
        if len(found) > 1:
            listed = " and ".join(f"{c.label!r} (column {c.index + 1})" for c in found)
            raise InputError(path, f"line {line_number}: {len(found)} candidate {_DESCRIPTION[kind]} columns, {listed}")
        column = found[0]
        if column.problem:
            raise InputError(path, f"line {line_number}: column {column.index + 1} {column.label!r}: {column.problem}")
        if column.unit is None:
            notes.append(f"no unit in the header for {_DESCRIPTION[kind]} ({column.label!r}): taken as {_BASE[kind]}")
        return column

    if not known:
        shown = ", ".join(repr(label) for label in labels[:8])
        raise InputError(path, f"line {line_number}: the header names no column argyrodb knows ({shown}): need frequency "
                               "and Z', Z'' (or |Z| and phase)")
    if "f" not in by_kind:
        raise InputError(path, f"line {line_number}: no frequency column (freq, frequency or f, with a unit Hz, kHz, MHz)")
    chosen = {"f": one("f")}
    complete_parts = "re" in by_kind and "im" in by_kind
    complete_polar = "mod" in by_kind and "phase" in by_kind
    if complete_parts or (not complete_polar and ("re" in by_kind or "im" in by_kind)):
        for kind, other in (("re", "im"), ("im", "re")):
            if kind not in by_kind:
                have = by_kind[other][0]
                raise InputError(path, f"line {line_number}: no {_DESCRIPTION[kind]} column beside "
                                       f"{_DESCRIPTION[other]} {have.label!r} (column {have.index + 1})")
        chosen["re"], chosen["im"] = one("re"), one("im")
        return chosen
    if complete_polar:
        chosen["mod"], chosen["phase"] = one("mod"), one("phase")
        return chosen
    polar = [c for c in known if c.kind in ("mod", "phase")]
    what = f" beside {polar[0].label!r}" if polar else ""
    raise InputError(path, f"line {line_number}: no Z'' column (and no |Z| with phase){what}: need Z' and Z'' "
                           "(or |Z| and phase)")


# --- sample geometry written in a file's header ---------------------------------------------------------------

_GEOMETRY = re.compile(
    r"(?P<label>(?:[A-Za-z]+[ \t]+){0,2}?)(?<![A-Za-z])(?P<key>thickness|diameter|area)"
    r"[ \t]*(?:[\[(](?P<u1>[^\])]*)[\])])?[ \t]*[:=]?[ \t]*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r"(?:[ \t]*(?P<u2>[µμu]m|mm|cm|m)(?P<square>\^?2|²)?(?![A-Za-z]))?", re.I)
_LENGTH_CM = {"mm": 0.1, "cm": 1.0, "µm": 1e-4, "μm": 1e-4, "um": 1e-4, "m": 100.0}


def _geometry(spectrum: Spectrum, lines: list[tuple[int, str]], gamry: bool = False) -> None:
    """``thickness_cm`` and ``area_cm2`` from header lines that state them with a unit: "Thickness[mm]: 0.75",
    "Diameter (mm) = 10", "Electrode surface area : 0.785 cm²", Gamry's ``AREA QUANT 0.785 &Area (cm^2)``. An
    electrode's or spacer's thickness or area (NEISYS writes both) is not the sample's and is skipped; a diameter
    gives the area pi d^2 / 4 when no area is written."""
    found: dict[str, tuple[float, int, str]] = {}
    for number, line in lines:
        matches: list[tuple[str, str, str | None, str]] = []
        if gamry:
            parts = line.split("\t")
            if parts[0] == "AREA" and len(parts) >= 4:
                bracket = re.search(r"\(([^)]*)\)", parts[3])
                matches.append(("area", parts[2], bracket.group(1) if bracket else None, ""))
        else:
            for m in _GEOMETRY.finditer(line):
                written = m["u1"] if m["u1"] is not None else (m["u2"] + (m["square"] or "")) if m["u2"] else None
                matches.append((m["key"].lower(), m["value"], written, m["label"].lower()))
        for key, value_text, unit, label in matches:
            if "spacer" in label or (key == "thickness" and "electrode" in label):
                continue
            shown = line if len(line) <= 80 else line[:77] + "..."
            value = float(value_text)
            factor = _geometry_factor(key, unit)
            if factor is None:
                spectrum.notes.append(f"line {number}: {key} {value_text} without a length unit: not used ({shown!r})")
                continue
            if value <= 0:
                continue
            if key in found:
                if not math.isclose(found[key][0], value * factor, rel_tol=1e-6):
                    spectrum.notes.append(f"line {number}: another {key} ({value_text} {unit}), the first one kept")
                continue
            found[key] = (value * factor, number, shown)
    if "thickness" in found:
        spectrum.thickness_cm, number, shown = found["thickness"]
        spectrum.notes.append(f"thickness {spectrum.thickness_cm:.6g} cm from line {number}: {shown!r}")
    if "area" in found:
        spectrum.area_cm2, number, shown = found["area"]
        spectrum.notes.append(f"area {spectrum.area_cm2:.6g} cm² from line {number}: {shown!r}")
    elif "diameter" in found:
        diameter, number, shown = found["diameter"]
        spectrum.area_cm2 = math.pi * diameter ** 2 / 4
        spectrum.notes.append(f"area {spectrum.area_cm2:.6g} cm² = π d²/4 from the diameter {diameter:.6g} cm "
                              f"of line {number}: {shown!r}")


def _geometry_factor(key: str, unit: str | None) -> float | None:
    """cm (thickness, diameter) or cm² (area) per unit of ``unit``; None if it is not a length (or area) unit."""
    if unit is None:
        return None
    text = unit.strip().replace("²", "2").replace("^", "").lower()
    if key == "area":
        return _LENGTH_CM[text[:-1]] ** 2 if text.endswith("2") and text[:-1] in _LENGTH_CM else None
    return _LENGTH_CM.get(text)
