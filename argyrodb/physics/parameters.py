"""Refinement parameters as typed objects.

A non-linear parameter of a powder refinement (:mod:`argyrodb.physics.rietveld`) is a
:class:`RefinementParameter`: its :class:`ParameterKind`, the phase, site and element it belongs to, the step the
solver scales it by and its bounds. Its :attr:`~RefinementParameter.name` is the string of the refinement's JSON
(``parameters``) and of ``argyrodb refine --refine``::

    zero_shift_deg  displacement_deg  transparency_deg  V  W  axial_deg     one for the whole pattern
    S_L  H_L                    one for the whole pattern, with the Finger-Cox-Jephcoat asymmetry instead of axial_deg
    U  X                        one for the whole pattern, or one per phase as U:PHASE, X:PHASE (``phase_widths``)
    a:PHASE  Y:PHASE            one per phase (a only for a cubic phase)
    occ:SITE:ELEMENT@PHASE      an occupancy on an anion site, e.g. occ:4a:Cl@LMA-Cl0.8I0.6
    B:SITE@PHASE                the isotropic displacement parameter of a site, e.g. B:4a@LMA-Cl0.8I0.6, or
    B:SITE:SPECIES@PHASE        of a site named with its species, e.g. B:16e:S@LMA-Cl0.8I0.6

:func:`parse_parameter` reads one item of ``--refine`` into a :class:`ParameterSelection`: a whole name, or a name
cut at a separator, which selects every parameter it begins (``a:`` every lattice parameter, ``occ:4a`` every
occupancy on 4a, ``B:16e`` the B of 16e; a kind alone, ``U``, every parameter of that kind).

The scale factors and the background coefficients are not parameters in this sense: they enter the model linearly
and are solved at every step (variable projection, see :mod:`argyrodb.physics.rietveld`).

Each kind's step and bounds are in :data:`KIND_SPECS`, with the reason for each. The step is the solver's scale of
the parameter (``x_scale`` of :func:`scipy.optimize.least_squares`: its trust region is measured in steps) and the
standard deviation / 3 of the random restarts' perturbation: a change of about one step should change the fit
noticeably but stay inside the minimum's basin. They are the values the refinement has always used; the
refinement tests (tests/physics/test_rietveld.py) are calibrated with them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from ..core.chemistry import is_element
from ..core.errors import ParameterError
from ..core.refinement import A_MAX_ANGSTROM, A_MIN_ANGSTROM


class ParameterKind(Enum):
    """What a refinement parameter is; the value is the name's first token."""

    ZERO_SHIFT = "zero_shift_deg"
    DISPLACEMENT = "displacement_deg"
    TRANSPARENCY = "transparency_deg"
    U = "U"
    V = "V"
    W = "W"
    X = "X"
    Y = "Y"
    AXIAL = "axial_deg"
    S_L = "S_L"
    H_L = "H_L"
    A = "a"
    OCCUPANCY = "occ"
    B = "B"


class Scope(Enum):
    """Where a kind of parameter lives: the whole pattern, a phase, a site of a phase, an element on a site."""

    PATTERN = "pattern"
    PATTERN_OR_PHASE = "pattern or phase"
    PHASE = "phase"
    SITE = "site"
    SITE_ELEMENT = "site and element"


@dataclass(frozen=True)
class KindSpec:
    """A kind's unit, scope, solver step, default bounds and start value, and what it means (the reasons for
    the step and the bounds)."""

    unit: str
    scope: Scope
    step: float
    lower: float
    upper: float
    start: float | None
    meaning: str


#: Fraction of the start value within which a lattice parameter is refined (bounds a0 (1 -+ 0.03)): a few times the
#: spread of argyrodite lattice parameters around a composition's prediction (~1 %); the start scan of
#: :meth:`argyrodb.physics.rietveld.Refiner.run` covers +-1.5 %.
LATTICE_BOUNDS_FRACTION = 0.03

#: Step, bounds and start of every kind (see the module docstring for what the step does).
KIND_SPECS: dict[ParameterKind, KindSpec] = {
    ParameterKind.ZERO_SHIFT: KindSpec(
        "deg 2theta", Scope.PATTERN, 0.005, -0.5, 0.5, 0.0,
        "zero shift dz. Step 0.005 deg: a tenth of a lab diffractometer's FWHM (~0.05 deg). Bounds +-0.5 deg: "
        "an aligned instrument is off by a few 0.01 deg; the bound keeps the fit from sliding along the "
        "zero-shift/displacement/a valley"),
    ParameterKind.DISPLACEMENT: KindSpec(
        "deg 2theta", Scope.PATTERN, 0.005, -0.5, 0.5, 0.0,
        "sample displacement D in D cos(theta), D = -2 s/R (rad->deg). Step as the zero shift's (the same "
        "size of line shift). Bounds +-0.5 deg: s = 1 mm at R = 240 mm. Not refined by default: over 10-90 deg "
        "it correlates with the zero shift (-0.99) and moves a"),
    ParameterKind.TRANSPARENCY: KindSpec(
        "deg 2theta", Scope.PATTERN, 0.005, 0.0, 0.2, 0.0,
        "sample transparency T in -T sin(2 theta), T = 1/(2 mu R) (rad->deg). Step as the zero shift's. "
        "Bounds 0-0.2 deg: T >= 0 by definition; a loosely packed argyrodite (mu ~ 60 /cm with Cu K-alpha, "
        "R = 240 mm) has T ~ 0.02 deg, the bound allows ten times less absorption"),
    ParameterKind.U: KindSpec(
        "deg^2", Scope.PATTERN_OR_PHASE, 0.005, 0.0, 0.5, 0.004,
        "Caglioti U of the Gaussian width U tan^2 + V tan + W: microstrain. Step 0.005 deg^2: the size of U, V, W "
        "themselves (1e-3 to 1e-2 deg^2 for a lab instrument). Bounds 0-0.5 deg^2 (U >= 0: a strain broadens)"),
    ParameterKind.V: KindSpec(
        "deg^2", Scope.PATTERN, 0.005, -0.1, 0.1, -0.002,
        "Caglioti V (instrument). Step as U's. Bounds +-0.1 deg^2; a penalty keeps the Gaussian variance positive "
        "across the pattern (bounds cannot say so)"),
    ParameterKind.W: KindSpec(
        "deg^2", Scope.PATTERN, 0.005, 1e-6, 0.2, 0.002,
        "Caglioti W (instrument width at theta = 0). Step as U's. Bounds 1e-6-0.2 deg^2: a positive width"),
    ParameterKind.X: KindSpec(
        "deg", Scope.PATTERN_OR_PHASE, 0.005, 0.0, 1.0, 0.01,
        "Lorentzian X tan(theta): microstrain. Step 0.005 deg: the size of X and Y for a lab pattern "
        "(0.01-0.05 deg). Bounds 0-1 deg (X >= 0)"),
    ParameterKind.Y: KindSpec(
        "deg", Scope.PHASE, 0.005, 0.0, 2.0, 0.02,
        "Lorentzian Y / cos(theta): crystallite size, K lambda / Y (Y in rad, K = 0.9). Step as X's. Bounds 0-2 deg: "
        "Y = 0 is no size broadening, 2 deg is a 4 nm crystallite with Cu K-alpha; the start 0.02 deg is ~400 nm"),
    ParameterKind.AXIAL: KindSpec(
        "deg", Scope.PATTERN, 0.5, 0.0, 10.0, 2.0,
        "largest axial angle A of the triangular distribution of axial divergence (Soller slits). Step 0.5 deg: "
        "the shift goes as A^2, and 0.5 deg at A ~ 2-5 deg visibly changes the low-angle asymmetry. "
        "Bounds 0-10 deg (a 5 deg Soller slit pair gives A ~ 5 deg)"),
    ParameterKind.S_L: KindSpec(
        "rad (S/L)", Scope.PATTERN, 0.005, 0.0, 0.08, 0.0175,
        "Finger-Cox-Jephcoat S/L: the illuminated sample's half-height S (axial) over the goniometer radius L; it "
        "enters with H/L as (S + H)/L, the largest axial angle, and |H - S|/L, the flat part of their distribution. "
        "Step 0.005: (S + H)/L ~ 0.04-0.07 on a lab instrument, and the low-angle shift goes as its square, so 0.005 "
        "changes the asymmetry by 15-25 % (as axial_deg's 0.5 deg step). Bounds 0-0.08: a height >= 0; 0.08 is "
        "19 mm at L = 240 mm, above a lab sample's or receiving slit's half-height (5-10 mm); with the other at the "
        "same bound (S + H)/L = 0.16 rad = 9.2 deg, as axial_deg's 10 deg bound. Start 0.0175: with H/L the same, "
        "(S + H)/L = 0.035 rad = 2 deg, axial_deg's start. Soller slits cut the longest paths, so a refined S/L is "
        "an effective one"),
    ParameterKind.H_L: KindSpec(
        "rad (H/L)", Scope.PATTERN, 0.005, 0.0, 0.08, 0.0175,
        "Finger-Cox-Jephcoat H/L: the receiving slit's half-height H (axial) over L. Step, bounds and start as S/L's "
        "(the profile is symmetric in S and H: only their sum and |difference| count). Tied to S/L (H/L = S/L, as "
        "GSAS-II's single SH/L) unless refined by name: at S = H the profile's derivative with respect to H - S is "
        "zero (the flat part grows as its square). Refined apart on the LaB6 SRM 660c pattern and the synthetic Si, "
        "lma_nominal and brcl_li2s patterns they met again (within 3 %), correlated -1.000, GoF unchanged"),
    ParameterKind.A: KindSpec(
        "angstrom", Scope.PHASE, 1e-3, A_MIN_ANGSTROM, A_MAX_ANGSTROM, None,
        "cubic lattice parameter. Step 1e-3 A: moves a line at 2theta = 60 deg of a 10 A cell by 2 tan(theta) "
        "da/a = 0.0066 deg, the zero shift's step. Bounds in a refinement: the start a0 (1 -+ 0.03) "
        "(LATTICE_BOUNDS_FRACTION); by default the plausible range of core.refinement"),
    ParameterKind.OCCUPANCY: KindSpec(
        "fraction of the site", Scope.SITE_ELEMENT, 0.02, 0.0, 1.0, None,
        "occupancy of a halide (or S) on an anion site (4a, 4c, 4d), the site's sum kept (S fills). Step 0.02: "
        "about the resolution of a halide occupancy on a lab pattern (the tests recover I within 0.02). Bounds in a "
        "refinement: 0 to the site's sum in the start structure; by default 0-1"),
    ParameterKind.B: KindSpec(
        "angstrom^2", Scope.SITE, 0.2, 0.0, 15.0, None,
        "isotropic displacement parameter B = 8 pi^2 U_iso of a site (Li fixed). Step 0.2 A^2: changes the "
        "intensity at sin(theta)/lambda = 0.5 /A by exp(-0.2 x 0.25) ~ 5 %. Bounds 0-15 A^2: B >= 0; 15 A^2 "
        "is beyond the most mobile anion of an argyrodite"),
}

_KIND_BY_TOKEN = {kind.value: kind for kind in ParameterKind}
_WYCKOFF = re.compile(r"^\d{1,3}[a-z]$")

#: The grammar of names and selections, for error messages.
GRAMMAR = ("zero_shift_deg, displacement_deg, transparency_deg, U, V, W, X, axial_deg, S_L, H_L, U:PHASE, X:PHASE, "
           "a:PHASE, Y:PHASE, occ:SITE:ELEMENT@PHASE, B:SITE@PHASE, or a name cut at ':' or '@' (a:, occ:4a, B:)")


def _phase_name(phase) -> str:
    return phase if isinstance(phase, str) else phase.name


def _check_species(label: str, parameter: str, what: str) -> None:
    if not label or not all(is_element(el) for el in label.split("/")):
        raise ParameterError(parameter, f"{what}: {label!r} is not an element (or elements joined by '/')")


@dataclass(frozen=True)
class RefinementParameter:
    """One non-linear parameter of a refinement: ``kind``, the ``phase`` (name) it belongs to, its ``site``
    (Wyckoff symbol, e.g. ``"4a"``) and ``element`` (an occupancy's element; a B's species label such as ``"S"``
    when the site is named with them), the solver's ``step`` and the bounds ``lower``, ``upper`` (in the kind's
    unit, :data:`KIND_SPECS`; omitted: the kind's defaults).

    Equality and hash are the identity (kind, phase, site, element): the quantity, not how it is bounded, so a
    parameter is a dictionary key and a cache key as it is."""

    kind: ParameterKind
    phase: str | None = None
    site: str | None = None
    element: str | None = None
    step: float = field(default=math.nan, compare=False)
    lower: float = field(default=math.nan, compare=False)
    upper: float = field(default=math.nan, compare=False)

    def __post_init__(self) -> None:
        kind = self.kind if isinstance(self.kind, ParameterKind) else _KIND_BY_TOKEN.get(self.kind)
        if kind is None:
            raise ParameterError("kind", f"{self.kind!r} is not a parameter kind ({', '.join(_KIND_BY_TOKEN)})")
        object.__setattr__(self, "kind", kind)
        spec = KIND_SPECS[kind]
        for name in ("step", "lower", "upper"):
            if math.isnan(getattr(self, name)):
                object.__setattr__(self, name, float(getattr(spec, name)))
        scope = spec.scope
        needs_phase = scope in (Scope.PHASE, Scope.SITE, Scope.SITE_ELEMENT)
        if scope is Scope.PATTERN and self.phase is not None:
            raise ParameterError("phase", f"{kind.value} is one for the whole pattern, not per phase ({self.phase!r})")
        if needs_phase and not self.phase:
            raise ParameterError("phase", f"{kind.value} belongs to a phase: give its name")
        if scope in (Scope.SITE, Scope.SITE_ELEMENT):
            if not (self.site and _WYCKOFF.match(self.site)):
                raise ParameterError("site", f"{kind.value}: {self.site!r} is not a Wyckoff position such as 4a")
        elif self.site is not None:
            raise ParameterError("site", f"{kind.value} has no site ({self.site!r})")
        if scope is Scope.SITE_ELEMENT or (scope is Scope.SITE and self.element is not None):
            _check_species(self.element or "", "element", kind.value)
        elif self.element is not None:
            raise ParameterError("element", f"{kind.value} has no element ({self.element!r})")
        if not self.step > 0:
            raise ParameterError("step", f"{kind.value}: the step must be positive, got {self.step!r}")
        if not self.lower <= self.upper:
            raise ParameterError("lower", f"{kind.value}: lower bound {self.lower!r} above upper bound {self.upper!r}")

    @classmethod
    def lattice(cls, phase: str, a_angstrom: float) -> RefinementParameter:
        """The cubic lattice parameter of ``phase`` refined from ``a_angstrom``: bounds a0 (1 -+
        :data:`LATTICE_BOUNDS_FRACTION`)."""
        return cls(ParameterKind.A, phase, lower=a_angstrom * (1 - LATTICE_BOUNDS_FRACTION),
                   upper=a_angstrom * (1 + LATTICE_BOUNDS_FRACTION))

    @classmethod
    def occupancy(cls, phase: str, site: str, element: str, site_sum: float) -> RefinementParameter:
        """The occupancy of ``element`` on ``site`` of ``phase``, between 0 and the site's sum (the site's other
        scatterer, S, fills it)."""
        return cls(ParameterKind.OCCUPANCY, phase, site, element, upper=float(site_sum))

    @cached_property
    def name(self) -> str:
        """The parameter's name in the refinement's JSON and in ``--refine`` (see the module docstring)."""
        token = self.kind.value
        if self.kind is ParameterKind.OCCUPANCY:
            return f"occ:{self.site}:{self.element}@{self.phase}"
        if self.kind is ParameterKind.B:
            return f"B:{self.site}" + (f":{self.element}" if self.element else "") + f"@{self.phase}"
        return token if self.phase is None else f"{token}:{self.phase}"

    @property
    def spec(self) -> KindSpec:
        """The kind's unit, scope, defaults and meaning."""
        return KIND_SPECS[self.kind]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ParameterSelection:
    """Which parameters one ``--refine`` item names: those of ``kind`` narrowed to a ``phase``, a ``site`` and an
    ``element`` (None: any); ``per_phase`` (written ``U:``) only the per-phase ones. ``text`` is the item as
    written (for messages); equality ignores it."""

    kind: ParameterKind
    phase: str | None = None
    site: str | None = None
    element: str | None = None
    per_phase: bool = False
    text: str = field(default="", compare=False)

    def selects(self, parameter: RefinementParameter) -> bool:
        """Whether ``parameter`` is one of those selected."""
        return (parameter.kind is self.kind
                and not (self.per_phase and parameter.phase is None)
                and (self.phase is None or parameter.phase == self.phase)
                and (self.site is None or parameter.site == self.site)
                and (self.element is None or parameter.element == self.element))

    def select(self, parameters: Iterable[RefinementParameter]) -> tuple[RefinementParameter, ...]:
        """The selected ones of ``parameters``, in their order."""
        return tuple(p for p in parameters if self.selects(p))

    @property
    def name(self) -> str:
        """The selection written in the ``--refine`` grammar (what :func:`parse_parameter` reads back)."""
        token = self.kind.value
        if self.kind in (ParameterKind.OCCUPANCY, ParameterKind.B):
            if self.site is None:
                return token + (":" if self.per_phase else "")
            text = f"{token}:{self.site}" + (f":{self.element}" if self.element else "")
            return text + (f"@{self.phase}" if self.phase else "")
        if self.phase is not None:
            return f"{token}:{self.phase}"
        return token + (":" if self.per_phase else "")

    def __str__(self) -> str:
        return self.name


def parse_parameter(text: str, phases: Iterable = (), parameter: str = "refine") -> ParameterSelection:
    """One item of the ``--refine`` grammar (module docstring) as a :class:`ParameterSelection`. ``phases``: the
    refinement's phases (names, or objects with a ``name``), which a name's phase must be one of. Anything else: a
    one-line :class:`~argyrodb.core.errors.ParameterError` naming ``parameter`` and the text."""
    names = sorted({_phase_name(p) for p in phases}, key=len, reverse=True)
    item = text.strip() if isinstance(text, str) else ""
    if not item:
        raise ParameterError(parameter, f"an empty parameter name ({text!r})")
    token, colon, rest = item.partition(":")
    kind = _KIND_BY_TOKEN.get(token)
    if kind is None:
        raise ParameterError(parameter, f"unknown parameter {text!r} (known: {GRAMMAR})")
    scope = KIND_SPECS[kind].scope

    def unknown_phase(name: str) -> ParameterError:
        known = ", ".join(sorted(names)) or "none given"
        return ParameterError(parameter, f"unknown phase {name!r} in parameter {text!r} (phases: {known})")

    if not colon:
        return ParameterSelection(kind, text=text)
    if scope is Scope.PATTERN:
        raise ParameterError(parameter, f"unknown parameter {text!r}: {token} is one for the whole pattern and takes "
                                        "no phase or site")
    if scope in (Scope.PHASE, Scope.PATTERN_OR_PHASE):
        if not rest:
            return ParameterSelection(kind, per_phase=True, text=text)
        if rest not in names:
            raise unknown_phase(rest)
        return ParameterSelection(kind, phase=rest, text=text)
    # occupancy or B: SITE[:ELEMENT][@PHASE]
    if not rest:
        return ParameterSelection(kind, per_phase=True, text=text)
    phase = None
    if "@" in rest:
        phase = next((n for n in names if rest.endswith("@" + n)), None)
        if phase is not None:
            rest = rest[: -len(phase) - 1]
        elif rest.endswith("@"):
            rest = rest[:-1]
        else:
            raise unknown_phase(rest.rsplit("@", 1)[1])
    site, _, element = rest.partition(":")
    if not _WYCKOFF.match(site):
        raise ParameterError(parameter, f"{text!r}: {site!r} is not a Wyckoff position such as 4a")
    if element:
        _check_species(element, parameter, repr(text))
        if kind is ParameterKind.OCCUPANCY and "/" in element:
            raise ParameterError(parameter, f"{text!r}: an occupancy is one element's, not {element!r}")
    elif kind is ParameterKind.OCCUPANCY and phase is not None:
        raise ParameterError(parameter, f"{text!r}: an occupancy's name gives its element (occ:SITE:ELEMENT@PHASE)")
    return ParameterSelection(kind, phase=phase, site=site, element=element or None, text=text)


def parse_parameters(items: str | Iterable[str], phases: Iterable = (), parameter: str = "refine"
                     ) -> tuple[ParameterSelection, ...]:
    """:func:`parse_parameter` of each item: a comma-separated string (as ``--refine`` takes it) or an iterable of
    items; empty items are skipped."""
    phases = tuple(phases)
    parts = items.split(",") if isinstance(items, str) else list(items)
    return tuple(parse_parameter(p, phases, parameter) for p in parts if not isinstance(p, str) or p.strip())


def selected(selections: Iterable[ParameterSelection], parameters: Iterable[RefinementParameter],
             parameter: str = "refine") -> tuple[RefinementParameter, ...]:
    """The ``parameters`` (in their order) that any of ``selections`` selects; a selection that selects none is a
    :class:`~argyrodb.core.errors.ParameterError` naming ``parameter`` and listing the known names."""
    parameters = tuple(parameters)
    selections = tuple(selections)
    for selection in selections:
        if not selection.select(parameters):
            raise ParameterError(parameter, f"unknown parameter {selection.text or selection.name!r} "
                                            f"(known: {', '.join(p.name for p in parameters)})")
    return tuple(p for p in parameters if any(s.selects(p) for s in selections))
