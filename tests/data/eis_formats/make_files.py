"""Regenerate the impedance files of tests/data/eis_formats (issue 22, item 1): one synthetic spectrum written in the
layout of each instrument export argyrodb reads, and text tables that vary one thing each (units, decimal comma,
encoding, footer, header) or are made to be ambiguous.

    .venv/bin/python tests/data/eis_formats/make_files.py          # write the files
    .venv/bin/python tests/data/eis_formats/make_files.py --check  # compare with the stored files, write nothing

The spectrum is that of a pressed pellet between blocking electrodes, R0-p(R1,CPE1)-CPE2:

    Z(f) = R0 + R1 / (1 + R1 Q1 (j 2 pi f)^a1) + 1 / (Q2 (j 2 pi f)^a2)

with R0 = 25 ohm, R1 = 180 ohm, Q1 = 5e-8 F s^(a1-1), a1 = 0.90 (the arc's apex at 64 kHz), Q2 = 2e-6 F s^(a2-1),
a2 = 0.85 (the electrode spike), at 71 frequencies, 10 per decade from 1 MHz down to 0.1 Hz. No noise is added:
each file holds the exact impedance rounded to the digits its instrument writes, so a test can compare what a reader
returns with the circuit to that rounding (``DIGITS``). The files with several sweeps scale R1 by 1.0, 1.1, 1.2 from
one sweep to the next (an ageing pellet). The pellet is 1.00 mm thick and 10.0 mm across (0.785 cm²); the files
whose instrument writes a geometry say so. The seeded random numbers fill only the columns no reader uses (times,
DC potentials and currents): the impedance columns are exact.

Where each layout comes from (what the readers expect; no instrument's own file is copied) is in README.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 22
R0, R1, Q1, A1, Q2, A2 = 25.0, 180.0, 5e-8, 0.90, 2e-6, 0.85
FREQUENCIES = np.logspace(6, -1, 71)
SWEEP_R1_FACTORS = (1.0, 1.1, 1.2)
THICKNESS_CM, DIAMETER_CM = 0.100, 1.00
#: significant digits of the impedance (and frequency) each file writes: reading it back agrees with the circuit to
#: half a unit in the last digit, a relative 0.5 * 10^(1 - digits) of each number (float32 for the .mpr: 2^-24)
DIGITS = {
    "pellet.csv": 5, "pellet_decimal_comma.csv": 5, "pellet_kHz_kOhm.csv": 5, "pellet_latin1.txt": 7,
    "pellet_footer.txt": 7, "pellet_headerless.txt": 7, "pellet.mpt": 8, "pellet_2sweeps.mpt": 8, "pellet.DTA": 7,
    "pellet.z": 5, "pellet_autolab.txt": 10, "pellet_parstat.txt": 10, "pellet.par": 7, "pellet_powersuite.txt": 8,
    "pellet_chi.txt": 4, "pellet_neisys.txt": 8, "pellet_3sweeps.mpr": 7,
}


def impedance(frequency_hz, r1: float = R1) -> np.ndarray:
    """The circuit's impedance (ohm) at ``frequency_hz``, R1 replaceable (the sweeps of the multi-sweep files)."""
    jw = 1j * 2 * np.pi * np.asarray(frequency_hz, dtype=float)
    return R0 + r1 / (1 + r1 * Q1 * jw ** A1) + 1 / (Q2 * jw ** A2)


def _e(value: float, decimals: int, exponent_digits: int = 2) -> str:
    """``value`` in E notation with ``decimals`` decimals and an exponent of at least ``exponent_digits`` digits
    (EC-Lab writes 1.0003201E+003, CH Instruments 9.961e+4)."""
    mantissa, exponent = f"{value:.{decimals}E}".split("E")
    sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
    return f"{mantissa}E{sign}{digits.rjust(exponent_digits, '0')}"


def _rows(spectrum=None):
    f = FREQUENCIES
    z = impedance(f) if spectrum is None else spectrum
    return f, z


# --- text tables ------------------------------------------------------------------------------------------------


def pellet_csv() -> bytes:
    """Comma-separated, dot decimals, names and units in the header (Hz, Ohm), Z'' signed."""
    f, z = _rows()
    lines = ["frequency/Hz,Z'/Ohm,Z''/Ohm"] + [f"{a:.4E},{b.real:.4E},{b.imag:.4E}" for a, b in zip(f, z)]
    return ("\n".join(lines) + "\n").encode()


def pellet_decimal_comma_csv() -> bytes:
    """The digits of pellet.csv written as a German-locale export writes them: UTF-8 with a byte-order mark, ';'
    separators, decimal commas, Ω in the units, -Z'' instead of Z'' and two more columns (|Z|, -phase)."""
    f, z = _rows()
    lines = ["Frequency (Hz);Z' (Ω);-Z'' (Ω);Z (Ω);-Phase (°)"]
    for a, b in zip(f, z):
        minus_imag = f"{b.imag:.4E}"
        minus_imag = minus_imag[1:] if minus_imag.startswith("-") else "-" + minus_imag  # -Z'': the same digits
        row = [f"{a:.4E}", f"{b.real:.4E}", minus_imag, f"{abs(b):.4E}", f"{-math.degrees(np.angle(b)):.2f}"]
        lines.append(";".join(item.replace(".", ",") for item in row))
    return "\ufeff".encode() + ("\r\n".join(lines) + "\r\n").encode("utf-8")


def pellet_khz_kohm_csv() -> bytes:
    """pellet.csv in kHz and kOhm: the same mantissas, each exponent lowered by 3 (so only the unit differs)."""
    def thousandth(text: str) -> str:
        mantissa, exponent = text.split("E")
        return f"{mantissa}E{int(exponent) - 3:+03d}"

    f, z = _rows()
    lines = ["f (kHz),Re(Z) (kOhm),Im(Z) (kOhm)"]
    lines += [",".join(thousandth(f"{v:.4E}") for v in (a, b.real, b.imag)) for a, b in zip(f, z)]
    return ("\n".join(lines) + "\n").encode()


def pellet_latin1_txt() -> bytes:
    """Latin-1 (ISO-8859-1), tab-separated, comment lines with the sample and its geometry, |Z| and phase in
    degrees (°, byte 0xB0) instead of Z' and Z''."""
    f, z = _rows()
    lines = ["# Li6PS5Cl pellet, 25 °C, stainless-steel blocking electrodes (synthetic: make_files.py)",
             f"# Thickness (mm): {10 * THICKNESS_CM:.2f}", f"# Diameter (mm): {10 * DIAMETER_CM:.1f}",
             "freq/Hz\t|Z|/Ohm\tPhase(Z)/°"]
    lines += [f"{a:.6E}\t{abs(b):.6E}\t{math.degrees(np.angle(b)):.6f}" for a, b in zip(f, z)]
    return ("\n".join(lines) + "\n").encode("latin-1")


def pellet_footer_txt() -> bytes:
    """Space-separated with a header and two footer lines after the data."""
    f, z = _rows()
    lines = ["Freq(Hz)        Zre(ohm)        Zim(ohm)"]
    lines += [f"{a:.6E}  {b.real:.6E}  {b.imag:.6E}" for a, b in zip(f, z)]
    lines += ["Measurement finished: 71 points", "Total time 00:12:31"]
    return ("\n".join(lines) + "\n").encode()


def pellet_headerless_txt() -> bytes:
    """Three columns, no header: the format argyrodb documented before headers were read (f Hz, Z' ohm, Z'' ohm)."""
    f, z = _rows()
    return ("\n".join(f"{a:.6E} {b.real:.6E} {b.imag:.6E}" for a, b in zip(f, z)) + "\n").encode()


def ambiguous_5_columns_txt() -> bytes:
    """Five numeric columns and no header (f, amplitude, bias, Z', Z''): which three are the spectrum cannot be told."""
    f, z = _rows()
    return ("\n".join(f"{a:.6E}\t1.0000E-02\t0.0000E+00\t{b.real:.6E}\t{b.imag:.6E}" for a, b in zip(f, z)) + "\n").encode()


def ambiguous_two_frequencies_csv() -> bytes:
    """Two columns that both name a frequency."""
    f, z = _rows()
    lines = ["frequency/Hz,Z'/Ohm,Z''/Ohm,f/kHz"] + [f"{a:.6E},{b.real:.6E},{b.imag:.6E},{a / 1e3:.6E}" for a, b in zip(f, z)]
    return ("\n".join(lines) + "\n").encode()


def ambiguous_unit_furlong_csv() -> bytes:
    """An impedance in a unit argyrodb does not know."""
    f, z = _rows()
    lines = ["frequency/Hz,Z'/furlong,Z''/furlong"] + [f"{a:.6E},{b.real:.6E},{b.imag:.6E}" for a, b in zip(f, z)]
    return ("\n".join(lines) + "\n").encode()


def ambiguous_missing_zim_csv() -> bytes:
    """Z' and |Z| without Z'' (nor a phase)."""
    f, z = _rows()
    lines = ["frequency/Hz,Z'/Ohm,|Z|/Ohm"] + [f"{a:.6E},{b.real:.6E},{abs(b):.6E}" for a, b in zip(f, z)]
    return ("\n".join(lines) + "\n").encode()


def ambiguous_comma_txt() -> bytes:
    """Decimal commas between space-separated columns: the comma could be a decimal mark or a separator."""
    f, z = _rows()
    return ("\n".join(f"{a:.4E} {b.real:.4E} {b.imag:.4E}".replace(".", ",") for a, b in zip(f, z)) + "\n").encode()


# --- instrument layouts ----------------------------------------------------------------------------------------


def _mpt(sweeps: tuple[float, ...]) -> bytes:
    """BioLogic EC-Lab text export: "EC-Lab ASCII FILE", "Nb header lines : N" (the column names on line N),
    settings as "key : value" lines, tab-separated columns named "freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm" ... with a
    "cycle number" per row; Latin-1 (µ in "Cs/µF"); EC-Lab's three-digit exponents; no final newline."""
    rng = np.random.default_rng(SEED)
    settings = [
        "", "Potentio Electrochemical Impedance Spectroscopy", "", "Run on channel : 1 (SN 0001)", "User : ",
        "Acquisition started on : 01/15/2025 10:00:00", "Device : SP-200 (SN 0001)", "Address : USB",
        "Electrode material : stainless steel (blocking)", "Initial state : ", "Electrolyte : Li6PS5Cl pellet",
        "Comments : synthetic file written by tests/data/eis_formats/make_files.py",
        f"Electrode surface area : {math.pi * DIAMETER_CM ** 2 / 4:.3f} cm²", "Characteristic mass : 0.200 g",
        "Mode                Single sine", "E (V)               0.0000", "vs.                 Eoc",
        "fi                  1.000", "unit fi             MHz", "ff                  100.000", "unit ff             mHz",
        "Nd                  10", "Points              per decade", "Va (mV)             10.0", "",
    ]
    columns = ["freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg", "time/s", "<Ewe>/V", "<I>/mA",
               "Cs/µF", "Cp/µF", "cycle number", "I Range", "|Ewe|/V", "|I|/A"]
    n_header = len(settings) + 3  # the two first lines, the settings, the column names
    lines = ["EC-Lab ASCII FILE", f"Nb header lines : {n_header}", *settings, "\t".join(columns) + "\t"]
    time = 0.0
    for cycle, factor in enumerate(sweeps, start=1):
        for a, b in zip(FREQUENCIES, impedance(FREQUENCIES, R1 * factor)):
            time += 1 / a + 0.5
            w = 2 * np.pi * a
            cs = -1 / (w * b.imag) * 1e6
            cp = -b.imag / (w * abs(b) ** 2) * 1e6
            values = [a, b.real, -b.imag, abs(b), math.degrees(np.angle(b)), time, rng.normal(0, 1e-4),
                      rng.normal(0, 1e-4), cs, cp, float(cycle), 10.0, 0.01, 0.01 / abs(b)]
            lines.append("\t".join(_e(v, 7, 3) for v in values))
    return "\n".join(lines).encode("latin-1")


def pellet_mpt() -> bytes:
    return _mpt((1.0,))


def pellet_2sweeps_mpt() -> bytes:
    return _mpt(SWEEP_R1_FACTORS[:2])


def pellet_dta() -> bytes:
    """Gamry Framework EISPOT: tagged header lines (TAG, TITLE, ..., AREA QUANT value label), an OCVCURVE table,
    then the ZCURVE table (a names row, a units row with °, tab-led data rows: Pt Time Freq Zreal Zimag ...);
    Latin-1, tab-separated, CR LF."""
    rng = np.random.default_rng(SEED)
    area = math.pi * DIAMETER_CM ** 2 / 4
    lines = ["EXPLAIN", "TAG\tEISPOT", "TITLE\tLABEL\tPotentiostatic EIS\tTest &Identifier", "DATE\tLABEL\t1/15/2025\tDate",
             "TIME\tLABEL\t10:00:00\tTime", "NOTES\tNOTES\t1\t&Notes...",
             "\tLi6PS5Cl pellet, 25 °C (synthetic: tests/data/eis_formats/make_files.py)",
             "PSTAT\tPSTAT\tREF600-00001\tPotentiostat", "VDC\tPOTEN\t0.00000E+000\tT\tDC &Voltage (V)",
             "FREQINIT\tQUANT\t1.00000E+006\tInitial Fre&q. (Hz)", "FREQFINAL\tQUANT\t1.00000E-001\tFinal Fre&q. (Hz)",
             "PTSPERDEC\tQUANT\t1.00000E+001\tPoints/&decade", "VAC\tQUANT\t1.00000E+001\tAC &Voltage (mV rms)",
             f"AREA\tQUANT\t{_e(area, 5, 3)}\t&Area (cm^2)", "ZGUESS\tQUANT\t1.00000E+002\tE&stimated Z (ohms)",
             "OCVCURVE\tTABLE\t5", "\tPt\tT\tVf\tVm\tAch\tOver\tTemp", "\t#\ts\tV vs. Ref.\tV\tV\tbits\tdeg C"]
    lines += [f"\t{i}\t{i + 1}\t{rng.normal(0.012, 1e-4):.7g}\t{rng.normal(0.012, 1e-4):.7g}\t0\t...........\t25"
              for i in range(5)]
    lines += ["EOC\tQUANT\t0.012\tOpen Circuit (V)", "ZCURVE\tTABLE",
              "\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange", "\t#\ts\tHz\tohm\tohm\tV\tohm\t°\tA\tV\t#"]
    time = 0.0
    for i, (a, b) in enumerate(zip(FREQUENCIES, impedance(FREQUENCIES))):
        time += 1 / a + 0.5
        lines.append(f"\t{i}\t{round(time)}\t{a:.7g}\t{b.real:.7g}\t{b.imag:.7g}\t1\t{abs(b):.7g}\t"
                     f"{math.degrees(np.angle(b)):.7g}\t{rng.normal(0, 1e-8):.6g}\t{rng.normal(0, 1e-4):.7g}\t5")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def pellet_z() -> bytes:
    """Scribner ZPlot "ZPLOT2 ASCII": "key: value" header lines, the column names (Freq(Hz) Ampl Bias Time(Sec)
    Z'(a) Z''(b) GD Err Range: the AC amplitude second), "End Comments", tab-separated rows."""
    header = ["ZPLOT2 ASCII", "  Measured Data, ZPlot:       3.2c", "  Experiment Type:            Sweep Frequency, Control Voltage",
              "  Date:                       01-15-2025", "  Time:                       10:00:00",
              "  Begin User Comments:        0", "  End User Comments:          0", "  Begin Experiment:           0",
              "    Potential-DC:             0", "    Potential-AC:             10",
              "    vs Freq-Initial:          1000000", "    vs Freq-Final:            0.1",
              "  End Experiment:             0", "  Begin Information:          Cell Information",
              "    Surface Area:             0.785", "  End Information:            Cell Information",
              f"  Data Points:                {FREQUENCIES.size}",
              "  Freq(Hz)\tAmpl\tBias\tTime(Sec)\tZ'(a)\tZ''(b)\tGD\tErr\tRange", "End Comments"]
    rows, time = [], 0.0
    for a, b in zip(FREQUENCIES, impedance(FREQUENCIES)):
        time += 1 / a + 0.5
        rows.append(f"{a:.6E}\t1.0000E-02\t0.0000E+00\t{time:.6E}\t{b.real:.4E}\t{b.imag:.4E}\t0.0000E+00\t0\t3")
    return ("\n".join(header + rows) + "\n").encode()


def pellet_autolab_txt() -> bytes:
    """The layout impedance.py's readAutolab reads: a "Z60W Data File" title, quoted empty lines, a sweep line, the
    point count, the quoted column names (Freq (Hz) Ampl Bias Time(Sec) Z'(a) Z''(b) GD Err Range) and
    comma-separated rows; UTF-8 with a byte-order mark."""
    lines = ['"Z60W Data File: Version 1.1"'] + ['""'] * 7 + ["0,2,0,1,0.1,1000000", str(FREQUENCIES.size),
             '"  Freq (Hz)    Ampl     Bias   Time(Sec)   Z\'(a)    Z\'\'(b)    GD   Err   Range"']
    lines += [f"{a:.10g},0,0,0,{b.real:.10g},{b.imag:.10g},0,0,0" for a, b in zip(FREQUENCIES, impedance(FREQUENCIES))]
    return "\ufeff".encode() + ("\n".join(lines) + "\n").encode()


def pellet_parstat_txt() -> bytes:
    """The layout impedance.py's readParstat reads: one tab-separated header line (Potential (V), Current (A),
    Elapsed Time (s), Frequency (Hz), Zre (ohms), Zim (ohms), |Vac| (V), |Iac| (A)), each line ending in a tab;
    a DC hold first (frequency 0), then the impedance rows."""
    rng = np.random.default_rng(SEED)
    lines = ["Potential (V)\tCurrent (A)\tElapsed Time (s)\tFrequency (Hz)\tZre (ohms)\tZim (ohms)\t|Vac| (V)\t|Iac| (A)\t"]
    time = 0.0
    for _ in range(20):
        time += 10
        lines.append(f"{rng.normal(0.012, 1e-4):.15g}\t{rng.normal(0, 1e-8):.15g}\t{time:g}\t0\t0\t0\t0\t0\t")
    for a, b in zip(FREQUENCIES, impedance(FREQUENCIES)):
        time += 1 / a + 0.5
        lines.append(f"{rng.normal(0.012, 1e-4):.15g}\t{rng.normal(0, 1e-8):.15g}\t{time:.6g}\t{a:.10g}\t{b.real:.10g}\t"
                     f"{b.imag:.10g}\t0.01\t{0.01 / abs(b):.6g}\t")
    return ("\n".join(lines) + "\n").encode()


def pellet_par() -> bytes:
    """VersaStudio .par: tagged sections (<Application>, <Action0> with "Working Electrode Area (cm2)=",
    <Action1> with "Segments=1"), <Segment1> with Type, Version, the comma-separated "Definition=" names
    (Frequency(Hz) the 10th, Z Real and Z Imag the 15th and 16th) and the rows, then a trailing section."""
    rng = np.random.default_rng(SEED)
    area = math.pi * DIAMETER_CM ** 2 / 4
    lines = ["<Application>", "Name=VersaStudio", "Version=2.60.0.0", "</Application>", "", "<Action0>",
             "Mass (g)=0", f"Working Electrode Area (cm2)={area:.4f}", "Segments=0", "Name=Common",
             "Comment=synthetic file written by tests/data/eis_formats/make_files.py", "</Action0>", "", "<Action1>",
             "Amplitude (mV RMS)=10", "End Frequency (Hz)=0.1", "Start Frequency (Hz)=1000000", "Segments=1",
             "Name=Potentiostatic EIS", "</Action1>", "", "<Segment1>", "Type=2", "Version=3",
             "Definition=Segment #, Point #, E(V), I(A), Elapsed Time(s), ADC Sync Input(V), Current Range, Status, "
             "E Applied(V), Frequency(Hz), E Real, E Imag, I Real, I Imag, Z Real, Z Imag, E2 Status, E2(V), E2 Real, "
             "E2 Imag, Z2 Real, Z2 Imag, ActionId, AC Amplitude, 0"]
    time = 0.0
    for i, (a, b) in enumerate(zip(FREQUENCIES, impedance(FREQUENCIES))):
        time += 1 / a + 0.5
        current = 0.01 / b
        lines.append(f"0,{i},0,{rng.normal(0, 1e-8):.7g},{time:.7g},0,5,53,0,{a:.7g},0.01,0,{current.real:.7g},"
                     f"{current.imag:.7g},{b.real:.7g},{b.imag:.7g},0,0,0,0,0,0,21,0.01")
    lines += ["</Segment1>", "", "<Graph1>", "YAxisNormalizeWithArea=False", "</Graph1>"]
    return ("\n".join(lines) + "\n").encode()


def pellet_powersuite_txt() -> bytes:
    """PowerSuite text export as impedance.py's readPowerSuite reads it: "Frequency<tab> Zre<tab> Zimg", rows of
    frequency, a tab and a space before each impedance, rising frequency, CR CR LF line ends."""
    lines = ["Frequency\t Zre\t Zimg"]
    lines += [f"{a:.8g}\t {b.real:.8g}\t {b.imag:.8g}" for a, b in zip(FREQUENCIES[::-1], impedance(FREQUENCIES[::-1]))]
    return ("\r\r\n".join(lines) + "\r\r\n").encode()


def pellet_chi_txt() -> bytes:
    """CH Instruments "A.C. Impedance" export: date, technique, "key = value" settings, "Freq/Hz, Z'/ohm, Z"/ohm,
    Z/ohm, Phase/deg", an empty line, then rows with four significant digits (9.891e+1)."""
    lines = ["Jan. 15, 2025   10:00:00", "A.C. Impedance", "File: pellet_chi.bin", "Data Source:  Experiment",
             "Instrument Model:  CHI660E", "Header: ", "Note: synthetic file written by tests/data/eis_formats/make_files.py",
             "", "Init E (V) = 0", "High Frequency (Hz) = 1e+6", "Low Frequency (Hz) = 0.1", "Amplitude (V) = 0.01",
             "Quiet Time (sec) = 2", "", "Freq/Hz, Z'/ohm, Z\"/ohm, Z/ohm, Phase/deg", ""]

    def chi(value: float) -> str:
        return _e(value, 3, 1).replace("E", "e")

    lines += [f"{chi(a)}, {chi(b.real)}, {chi(b.imag)}, {chi(abs(b))}, {math.degrees(np.angle(b)):.1f}"
              for a, b in zip(FREQUENCIES, impedance(FREQUENCIES))]
    return ("\n".join(lines) + "\n").encode()


def pellet_neisys_txt() -> bytes:
    """NEISYS text export (the layout EISFitpython's readNEISYS reads): a title line, a geometry line
    ("Diameter[mm]: ...  Thickness[mm]: ...  ...  Electrode Thickness[mm]: ..."), "Fixed value(s) :  AC Volt ...",
    the tab-separated names Freq.[Hz], Zs'[ohm], Zs''[ohm], then rows; no final newline."""
    lines = ["pellet_25deg, 15.01.2025, 10:00",
             f"Diameter[mm]: {10 * DIAMETER_CM:.3e}  Thickness[mm]: {10 * THICKNESS_CM:.3e}  Spacer Capacity[pF]: 0.000e+00  "
             "Spacer Area[mm^2] 0.000e+00  Edge Correction On  Electrode Thickness[mm]: 4.00e+00",
             "Fixed value(s) :  AC Volt  [Vrms]=1.0000e-02  ", "     Freq.[Hz]\t      Zs'[ohm]\t     Zs''[ohm]"]
    lines += [f"{a: .7e}\t{b.real: .7e}\t{b.imag: .7e}" for a, b in zip(FREQUENCIES, impedance(FREQUENCIES))]
    return "\n".join(lines).encode()


def pellet_3sweeps_mpr() -> bytes:
    """BioLogic .mpr as galvani's BioLogic.py (0.5.0) reads it: the 52-byte file magic, then "MODULE" blocks, each a
    header (short name 10 bytes, long name 25, data length and version as little-endian uint32, date 8 bytes) and
    its data; a "VMP Set" module (not read) and a "VMP data" module of version 2: number of points (uint32), of
    columns (uint8), the column IDs (uint16: 32 freq/Hz, 37 Re(Z)/Ohm, 38 -Im(Z)/Ohm, 36 |Z|/Ohm, 35 Phase(Z)/deg,
    float32; 4 time/s, 24 cycle number, float64), zeros up to byte 405, then the packed rows. Three sweeps."""
    columns = [(32, "<f4"), (37, "<f4"), (38, "<f4"), (36, "<f4"), (35, "<f4"), (4, "<f8"), (24, "<f8")]
    dtype = np.dtype([(f"c{cid}", kind) for cid, kind in columns])
    rows = []
    time = 0.0
    for cycle, factor in enumerate(SWEEP_R1_FACTORS, start=1):
        for a, b in zip(FREQUENCIES, impedance(FREQUENCIES, R1 * factor)):
            time += 1 / a + 0.5
            rows.append((a, b.real, -b.imag, abs(b), math.degrees(np.angle(b)), time, float(cycle)))
    table = np.array(rows, dtype=dtype)
    ids = np.array([cid for cid, _ in columns], dtype="<u2").tobytes()
    head = np.array([len(rows)], dtype="<u4").tobytes() + bytes([len(columns)]) + ids
    data = head + b"\x00" * (405 - len(head)) + table.tobytes()
    settings = b"Potentio Electrochemical Impedance Spectroscopy (synthetic: make_files.py)".ljust(200, b"\x00")

    def module(short: bytes, long: bytes, version: int, payload: bytes) -> bytes:
        return (b"MODULE" + short.ljust(10) + long.ljust(25) + np.array([len(payload), version], dtype="<u4").tobytes()
                + b"01/15/25" + payload)

    magic = b"BIO-LOGIC MODULAR FILE\x1a".ljust(48) + b"\x00\x00\x00\x00"
    return magic + module(b"VMP Set", b"VMP settings", 0, settings) + module(b"VMP data", b"VMP data", 2, data)


FILES: dict[str, Callable[[], bytes]] = {
    "pellet.csv": pellet_csv,
    "pellet_decimal_comma.csv": pellet_decimal_comma_csv,
    "pellet_kHz_kOhm.csv": pellet_khz_kohm_csv,
    "pellet_latin1.txt": pellet_latin1_txt,
    "pellet_footer.txt": pellet_footer_txt,
    "pellet_headerless.txt": pellet_headerless_txt,
    "ambiguous_5_columns.txt": ambiguous_5_columns_txt,
    "ambiguous_two_frequencies.csv": ambiguous_two_frequencies_csv,
    "ambiguous_unit_furlong.csv": ambiguous_unit_furlong_csv,
    "ambiguous_missing_zim.csv": ambiguous_missing_zim_csv,
    "ambiguous_comma.txt": ambiguous_comma_txt,
    "pellet.mpt": pellet_mpt,
    "pellet_2sweeps.mpt": pellet_2sweeps_mpt,
    "pellet.DTA": pellet_dta,
    "pellet.z": pellet_z,
    "pellet_autolab.txt": pellet_autolab_txt,
    "pellet_parstat.txt": pellet_parstat_txt,
    "pellet.par": pellet_par,
    "pellet_powersuite.txt": pellet_powersuite_txt,
    "pellet_chi.txt": pellet_chi_txt,
    "pellet_neisys.txt": pellet_neisys_txt,
    "pellet_3sweeps.mpr": pellet_3sweeps_mpr,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored files; write nothing")
    args = parser.parse_args(argv)
    different = []
    for name, make in FILES.items():
        content = make()
        path = HERE / name
        if args.check:
            if not path.is_file() or path.read_bytes() != content:
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
