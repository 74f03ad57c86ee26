"""The literature figure (`argyrodb db plot`): typeset symbols, readable log axes, labels that stay inside
the axes and clear of each other, the markers and the legend."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from argyrodb.physics.plots import overlaps_data
from argyrodb.store.plots import (
    SIGMA_LABEL,
    formula_text,
    literature_figure,
    log_ticks,
    plot_literature,
)


def _frame():
    rows = [("Li6PS5Cl", 2.0, 1.0, "Li6PS5Cl", 0), ("Li6PS5Cl1.45I0.15", 5.5, 1.6, "Li6PS5Cl", 0),
            ("Li7P2S8Br0.5I0.5", 5.7, 1.4, "Li7P2S8I", 0), ("Li5.6PS4.6Cl1.3I0.1", 10.5, 1.7, "Li6PS5Cl", 0),
            ("Li5.4PS4.4Cl1.4I0.2", 11.8, 1.3, "Li6PS5Cl", 0), ("Li6PS4.8O0.2Cl", 3.7, 21.0, "Li6PS5Cl", 0),
            ("Li5.6PS4.6Cl0.8I0.6", 2.4, 1.55, "Li6PS5I", 1), ("Li6PS5I", 0.3, None, "Li6PS5I", 0)]
    return pd.DataFrame(rows, columns=["formula", "sigma_mS_cm", "ccd_mA_cm2", "primary_phase", "own_work"])


def _labelled_ticks(axis, limits):
    lo, hi = sorted(limits)
    return [label.get_text() for label, value in zip(axis.get_majorticklabels(), axis.get_majorticklocs())
            if label.get_text() and lo <= value <= hi]


@pytest.mark.parametrize("lo, hi, expected", [
    (0.8, 12, [1, 3, 10]),
    (0.5, 30, [1, 10]),
    (2, 4, [2, 3, 4]),
])
def test_log_ticks(lo, hi, expected):
    ticks = log_ticks(lo, hi)
    assert len(ticks) >= 3
    assert all(lo <= t <= hi for t in ticks)
    assert set(expected) <= {round(t, 9) for t in ticks}
    assert len(log_ticks(1e-4, 1e4)) <= 8


def test_formula_subscripts():
    assert formula_text("Li5.6PS4.6Cl0.8I0.6") == "Li$_{5.6}$PS$_{4.6}$Cl$_{0.8}$I$_{0.6}$"
    assert formula_text("Li10P3S12I") == "Li$_{10}$P$_{3}$S$_{12}$I"


def _check(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left, right = fig.axes[:2]
    every_text = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and callable(a.get_text))]
    outside_math = [re.sub(r"\$[^$]*\$", "", text) for text in every_text]
    assert not any("_" in text for text in outside_math)  # no literal underscore such as 'σ_Li'
    assert any(r"$\sigma_\mathrm{Li}$" in text for text in every_text)
    assert left.get_xlabel() == SIGMA_LABEL == right.get_ylabel() == r"$\sigma_\mathrm{Li}$ (mS cm$^{-1}$)"
    assert left.get_ylabel() == r"CCD (mA cm$^{-2}$)"
    for axis, limits in ((left.xaxis, left.get_xlim()), (left.yaxis, left.get_ylim()), (right.yaxis, right.get_ylim())):
        assert axis.get_scale() == "log"
        labelled = _labelled_ticks(axis, limits)
        assert len(labelled) >= 3, labelled
        assert all("10^" not in t and "$" not in t for t in labelled)  # plain numbers
        assert len(axis.get_minorticklocs()) > len(labelled)
    frame = left.get_window_extent(renderer)
    legend = left.get_legend().get_window_extent(renderer)
    assert not overlaps_data(left, legend, pad=0.0)
    boxes = [t.get_window_extent(renderer) for t in left.texts]
    assert boxes
    for index, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, left.texts[index].get_text()
        assert not box.overlaps(legend)
        assert not any(box.overlaps(other) for other in boxes[index + 1:]), left.texts[index].get_text()
    return left, right


def test_literature_figure_from_a_frame(tmp_path):
    left, right = _check(literature_figure(_frame()))
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["literature (Table S3)", "this work"]
    assert [t.get_text() for t in right.get_xticklabels()] == ["Li$_{6}$PS$_{5}$Cl", "Li$_{6}$PS$_{5}$I", "Li$_{7}$P$_{2}$S$_{8}$I"]
    assert plot_literature(_frame(), tmp_path / "lit.png").read_bytes()[:4] == b"\x89PNG"


def test_literature_figure_from_the_database(db_path):
    from argyrodb.store.queries import MeasurementFilter, query_measurements

    frame = query_measurements(MeasurementFilter(dataset="table_s3"), db_path=db_path)
    _check(literature_figure(frame))
