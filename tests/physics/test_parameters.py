"""Refinement parameters as typed objects (issue 21, item 4): names render the JSON/``--refine`` grammar and parse back
for every kind, the ``--refine`` items select what the old prefix rule selected, bad text is a one-line
ParameterError naming it, steps and bounds come from the kind, and the settings object refines exactly like the
keywords it replaces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from argyrodb import api
from argyrodb.core.errors import ParameterError
from argyrodb.physics.parameters import (
    KIND_SPECS,
    ParameterKind,
    ParameterSelection,
    RefinementParameter,
    parse_parameter,
    parse_parameters,
    selected,
)
from argyrodb.physics.pattern_data import read_powder_data
from argyrodb.physics.rietveld import (
    RefinementSettings,
    Refiner,
    argyrodite_phase,
    impurity_phase,
    refined_refinement,
)
from argyrodb_testing import DATA, LMA

REFINE = DATA / "refine"
X = np.arange(10.0, 90.0001, 0.05)


@pytest.fixture(scope="module")
def lma_phase():
    """Table S2 with free totals (--free-totals): every anion-site occupancy is a parameter."""
    return argyrodite_phase(api.analyse(LMA), tie_totals=())


def test_the_default_holds_the_totals_so_4d_follows_4a():
    """By default the nominal totals are held: a halide on 4a and 4d has one parameter (4a), 4d follows."""
    phase = argyrodite_phase(api.analyse(LMA))
    names = set(_refiner([phase]).params)
    assert {f"occ:4a:Cl@{phase.name}", f"occ:4a:I@{phase.name}"} <= names
    assert not any(n.startswith("occ:4d:") for n in names)


@pytest.fixture(scope="module")
def licl_phase():
    """Rock-salt LiCl (a = 5.13 A, B = 1 A^2), built here: a second phase with a name of its own."""
    structure = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                                          site_properties={"b_iso": [1.0, 1.0]})
    return impurity_phase("LiCl", structure)


def _refiner(phases, **settings) -> Refiner:
    return Refiner(X, np.ones_like(X), None, phases, RefinementSettings(**settings))


@pytest.fixture(scope="module", params=[("U",), (), ("U", "X")], ids=["U-per-phase", "shared", "U-X-per-phase"])
def refiner(request, lma_phase, licl_phase):
    return _refiner([lma_phase, licl_phase], phase_widths=request.param)


def test_every_kind_renders_and_parses_back(refiner):
    """Each parameter's name parses to a selection of exactly that parameter, with its kind, phase, site, element.
    Every kind occurs in a two-phase Rietveld refinement: S_L and H_L (Finger-Cox-Jephcoat) instead of axial_deg
    with asymmetry="fcj"."""
    fcj = _refiner(refiner.phases, phase_widths=refiner.phase_widths, asymmetry="fcj")
    fcj_kinds = {ParameterKind.S_L, ParameterKind.H_L}
    assert {p.kind for p in refiner.parameters} == set(ParameterKind) - fcj_kinds
    assert {p.kind for p in fcj.parameters} == set(ParameterKind) - {ParameterKind.AXIAL}
    for each in (refiner, fcj):
        _render_and_parse_back(each)


def _render_and_parse_back(refiner) -> None:
    parameters = refiner.parameters
    for p in parameters:
        assert refiner.params[p.name].definition == p
        selection = parse_parameter(p.name, refiner.phases)
        assert selection.name == p.name
        assert (selection.kind, selection.phase, selection.site, selection.element) == (p.kind, p.phase, p.site, p.element)
        assert selection.select(parameters) == (p,)


def test_names_are_todays_strings(lma_phase):
    """The grammar the JSON and --refine have always used: a:PHASE, occ:SITE:ELEMENT@PHASE, B:SITE[:SPECIES]@PHASE."""
    names = list(_refiner([lma_phase]).params)
    name = lma_phase.name
    assert names[:8] == ["zero_shift_deg", "displacement_deg", "transparency_deg", "V", "W", "X", "axial_deg", f"a:{name}"]
    assert f"U:{name}" in names and f"Y:{name}" in names
    assert {f"occ:4a:Cl@{name}", f"occ:4a:I@{name}", f"occ:4d:Cl@{name}", f"occ:4d:I@{name}"} <= set(names)
    assert {f"B:4a@{name}", f"B:4b@{name}", f"B:4d@{name}", f"B:16e:S@{name}"} <= set(names)
    assert RefinementParameter(ParameterKind.OCCUPANCY, "P", "4a", "Cl").name == "occ:4a:Cl@P"
    assert RefinementParameter(ParameterKind.B, "P", "16e", "S/Se").name == "B:16e:S/Se@P"
    assert RefinementParameter(ParameterKind.U).name == "U" and RefinementParameter(ParameterKind.U, "P").name == "U:P"


def _old_rule(item: str, names: list[str]) -> set[str]:
    """What --refine selected before the typed parameters: every name equal to the item or starting with it."""
    return {n for n in names if n == item or n.startswith(item)}


DOCUMENTED = ["zero_shift_deg", "a:", "occ:", "B:", "U:", "V", "W", "X", "Y:", "axial_deg", "displacement_deg",
              "transparency_deg", "U", "Y", "occ", "B", "occ:4a", "occ:4d:I", "B:16e", "B:4a", "X:"]


def test_refine_items_select_what_they_always_selected(refiner):
    names = list(refiner.params)
    for item in DOCUMENTED + names:
        old = _old_rule(item, names)
        if not old:  # "U:" with a shared U, "X:" with a shared X: refused before and now
            with pytest.raises(ParameterError, match=f"unknown parameter {item!r}"):
                selected([parse_parameter(item, refiner.phases)], refiner.parameters)
            continue
        assert {p.name for p in selected([parse_parameter(item, refiner.phases)], refiner.parameters)} == old, item


def test_a_alone_is_the_lattice_parameters_not_also_the_axial_divergence(refiner):
    """The one change from the prefix rule: "a" named axial_deg too (a prefix of it); a kind alone is that kind."""
    chosen = selected([parse_parameter("a", refiner.phases)], refiner.parameters)
    assert {p.name for p in chosen} == {f"a:{phase.name}" for phase in refiner.phases}
    assert "axial_deg" in _old_rule("a", list(refiner.params))


@pytest.mark.parametrize("text, message", [
    ("nonsense", "unknown parameter 'nonsense' (known: zero_shift_deg"),
    ("", "an empty parameter name"),
    ("V:LiCl", "unknown parameter 'V:LiCl': V is one for the whole pattern"),
    ("a:LiBr", "unknown phase 'LiBr' in parameter 'a:LiBr' (phases: LMA-Cl0.8I0.6, LiCl)"),
    ("occ:4a:Cl@LiBr", "unknown phase 'LiBr' in parameter 'occ:4a:Cl@LiBr'"),
    ("occ:a4:Cl", "'occ:a4:Cl': 'a4' is not a Wyckoff position"),
    ("occ:4a:Xx", "'occ:4a:Xx': 'Xx' is not an element"),
    ("occ:4a:S/Se", "an occupancy is one element's"),
    ("occ:4a@LiCl", "an occupancy's name gives its element"),
    ("B:16e:S/Qq@LiCl", "'S/Qq' is not an element"),
])
def test_bad_text_is_one_line_naming_it(text, message, lma_phase, licl_phase):
    with pytest.raises(ParameterError) as caught:
        parse_parameter(text, [lma_phase, licl_phase])
    error = caught.value
    assert error.parameter == "refine" and message in str(error) and "\n" not in str(error), str(error)


def test_the_error_names_the_callers_parameter(lma_phase):
    with pytest.raises(ParameterError) as caught:
        parse_parameter("b:4a", [lma_phase], parameter="fix")
    assert caught.value.parameter == "fix" and "'b:4a'" in str(caught.value)


def test_a_selection_of_nothing_lists_the_known_names(lma_phase):
    with pytest.raises(ParameterError, match=r"^refine: unknown parameter 'occ:4c' \(known: zero_shift_deg, "):
        _refiner([lma_phase], refine=("occ:4c",))


def _old_step(name: str) -> float:
    """The step the solver used before it was a property of the kind: guessed from the name's prefix."""
    if name.startswith("a:"):
        return 1e-3
    if name.startswith("occ:"):
        return 0.02
    if name.startswith("B:"):
        return 0.2
    if name == "axial_deg":
        return 0.5
    return 0.005


#: The bounds the refinement has always used (a and occupancies relative to the start structure: below).
BOUNDS = {"zero_shift_deg": (-0.5, 0.5), "displacement_deg": (-0.5, 0.5), "transparency_deg": (0.0, 0.2),
          "U": (0.0, 0.5), "V": (-0.1, 0.1), "W": (1e-6, 0.2), "X": (0.0, 1.0), "Y": (0.0, 2.0),
          "axial_deg": (0.0, 10.0), "B": (0.0, 15.0)}


def test_steps_and_bounds_come_from_the_kind(refiner):
    for p in refiner.parameters:
        assert p.step == _old_step(p.name) == KIND_SPECS[p.kind].step, p.name
        phase = next((ph for ph in refiner.phases if ph.name == p.phase), None)
        if p.kind is ParameterKind.A:
            assert (p.lower, p.upper) == (phase.a0 * 0.97, phase.a0 * 1.03)
        elif p.kind is ParameterKind.OCCUPANCY:
            rule = next(r for r in phase.rules if r.parameter == p)
            assert (p.lower, p.upper) == (0.0, float(phase.site_sums[rule.group]))
        else:
            assert (p.lower, p.upper) == BOUNDS[p.kind.value], p.name
        assert refiner.params[p.name].step == p.step
        assert (refiner.params[p.name].lower, refiner.params[p.name].upper) == (p.lower, p.upper)


def test_identity_not_bounds_makes_a_key():
    narrow = RefinementParameter.lattice("LMA", 10.0)
    assert narrow == RefinementParameter(ParameterKind.A, "LMA") and hash(narrow) == hash(RefinementParameter(ParameterKind.A, "LMA"))
    assert (narrow.lower, narrow.upper) == (10.0 * 0.97, 10.0 * 1.03)
    assert {narrow: 1}[RefinementParameter("a", "LMA")] == 1  # the kind by its token too
    assert RefinementParameter(ParameterKind.A, "LMA") != RefinementParameter(ParameterKind.A, "LiCl")
    with pytest.raises(dataclasses.FrozenInstanceError):
        narrow.step = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("fields, parameter", [
    ({"kind": "q"}, "kind"),
    ({"kind": ParameterKind.V, "phase": "LMA"}, "phase"),
    ({"kind": ParameterKind.A}, "phase"),
    ({"kind": ParameterKind.OCCUPANCY, "phase": "LMA", "site": "4a"}, "element"),
    ({"kind": ParameterKind.OCCUPANCY, "phase": "LMA", "site": "a4", "element": "Cl"}, "site"),
    ({"kind": ParameterKind.Y, "phase": "LMA", "element": "Cl"}, "element"),
    ({"kind": ParameterKind.W, "step": 0.0}, "step"),
    ({"kind": ParameterKind.W, "lower": 1.0, "upper": 0.0}, "lower"),
])
def test_impossible_parameters_are_refused(fields, parameter):
    with pytest.raises(ParameterError) as caught:
        RefinementParameter(**fields)
    assert caught.value.parameter == parameter


def test_selection_names_parse_back():
    for text in DOCUMENTED + ["occ:4a:Cl@P", "B:16e:S@P", "a:P", "U:P", "B:4a@P"]:
        selection = parse_parameter(text, ["P"])
        assert selection.name == text and parse_parameter(selection.name, ["P"]) == selection
    assert parse_parameters("a:, occ:4a ,,V", ["P"]) == (ParameterSelection(ParameterKind.A, per_phase=True),
                                                        ParameterSelection(ParameterKind.OCCUPANCY, site="4a"),
                                                        ParameterSelection(ParameterKind.V))


@pytest.mark.parametrize("fields, parameter", [
    ({"mode": "lebail"}, "mode"), ({"background_terms": 0}, "background_terms"), ({"phase_widths": ("W",)}, "phase_widths"),
    ({"restarts": -1}, "restarts"),
])
def test_bad_settings_name_their_parameter(fields, parameter):
    with pytest.raises(ParameterError) as caught:
        RefinementSettings(**fields)
    assert caught.value.parameter == parameter


def test_a_run_without_a_single_fit_is_refused(lma_phase):
    """run(restarts=-1) makes no attempt: a ParameterError naming restarts (was AttributeError on the missing fit)."""
    with pytest.raises(ParameterError) as caught:
        _refiner([lma_phase]).run(restarts=-1, scan_lattice=False)
    assert caught.value.parameter == "restarts"


def test_a_second_phase_has_no_refined_refinement(licl_phase):
    """Only a phase with a structure of its own gives a refined refinement (a second phase was an AttributeError)."""
    with pytest.raises(ParameterError, match="LiCl carries no argyrodite structure"):
        refined_refinement(licl_phase, None, "data.xye", "0" * 64)


def test_settings_or_keywords_not_both(lma_phase):
    with pytest.raises(TypeError, match="not both"):
        Refiner(X, np.ones_like(X), None, [lma_phase], RefinementSettings(), mode="pawley")


def test_settings_refine_like_the_keywords_they_replace():
    """The same refinement given as keywords (the old way) and as a settings object made once: identical numbers,
    and the settings record carries the data's provenance where the pipeline used to add it afterwards."""
    data = read_powder_data(REFINE / "clbr_pure.xye")
    items = ["a:", "occ:", "zero_shift_deg", "U", "W", "Y:", "displacement_deg"]

    def phases():
        return [argyrodite_phase(api.analyse(REFINE / "clbr_pure.start.yaml"))]

    old = Refiner(data.two_theta_deg, data.counts, data.sigma, phases(), wavelength="CuKa12", mode="rietveld",
                  background_terms=12, refine=set(items)).run()
    main = phases()
    settings = RefinementSettings(refine=parse_parameters(items, main), data_notes=["a note"], pattern_file="p.xye",
                                  pattern_sha256="0" * 64)
    new = Refiner(data.two_theta_deg, data.counts, data.sigma, main, settings).run()
    assert [(n, p.value, p.esd, p.refine) for n, p in new.parameters.items()] == \
        [(n, p.value, p.esd, p.refine) for n, p in old.parameters.items()]
    assert np.array_equal(new.calculated, old.calculated) and new.phases == old.phases
    assert list(new.settings) == [*old.settings, "data_notes", "pattern_file", "pattern_sha256"]
    assert new.settings["data_notes"] == ["a note"] and new.settings["refined"] == old.settings["refined"]
