"""Batch powder patterns (issue 15): N lattice parameters and occupancy matrices of one F-43m model in one
vectorised call give, row by row, what the single-pattern path gives, to rounding."""

from __future__ import annotations

import numpy as np
import pytest

from argyrodb import api
from argyrodb.core.errors import ParameterError
from argyrodb.physics.xrd import XRDModel
from argyrodb_testing import LMA


@pytest.mark.parametrize("wavelength, two_theta", [("CuKa1", (10, 120)), ("CuKa12", (10, 90)), ("MoKa1", (5, 60))])
def test_batch_rows_equal_single_patterns(wavelength, two_theta):
    model = XRDModel.from_analysed(api.analyse(LMA))
    rng = np.random.default_rng(7)
    n = 25
    a = rng.uniform(9.7, 10.3, n)
    occupancy = model.occupancy_matrix[None] * rng.uniform(0.7, 1.0, (n, *model.occupancy_matrix.shape))
    b = model.b_iso[None] * rng.uniform(0.5, 1.5, (n, len(model.b_iso)))
    batch = model.batch_peak_arrays(a, occupancy, wavelength, two_theta, b_iso=b)
    for i in range(n):
        single = model.peak_arrays(wavelength, two_theta, a_angstrom=a[i], occupancy_matrix=occupancy[i], b_iso=b[i])
        present = batch["present"][i]
        got = sorted(zip(batch["component"][present], batch["line_key"][present], batch["two_theta_deg"][i][present],
                         batch["intensity"][i][present], batch["multiplicity"][present]))
        want = sorted(zip(single["component"], single["line_key"], single["two_theta_deg"], single["intensity"],
                          single["multiplicity"]))
        assert len(got) == len(want) > 10
        # labels and multiplicities exactly; numbers to rounding: the batch sums F over (pattern, line, atom) arrays in
        # another order and through other BLAS/SIMD kernels than one pattern does (2e-16 in 2theta, 1.1e-14 in
        # intensity seen; weak lines with cancelling terms lose more digits, hence rel 1e-9 for intensities)
        for g, w in zip(got, want):
            assert g[:2] == w[:2] and g[4] == w[4]
            assert g[2] == pytest.approx(w[2], rel=1e-12)
            assert g[3] == pytest.approx(w[3], rel=1e-9)


def test_batch_refuses_a_model_without_f43m_and_wrong_shapes():
    model = XRDModel.from_analysed(api.analyse(LMA))
    with pytest.raises(ParameterError, match="occupancy"):
        model.batch_peak_arrays(np.array([10.0, 10.1]), model.occupancy_matrix[None])
    with pytest.raises(ParameterError, match="two_theta_range"):
        model.batch_peak_arrays(np.array([10.0]), model.occupancy_matrix[None], two_theta_range=(50, 20))
