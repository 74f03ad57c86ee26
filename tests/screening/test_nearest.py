"""The vectorised nearest-literature lookup of screening equals the one-by-one total-variation distance."""

from __future__ import annotations

import numpy as np
import pytest

from argyrodb.screening.runs import NearestMaterials
from argyrodb.store.literature import composition_distance
from argyrodb.store.screening_runs import literature_materials


def nearest_material(amounts, literature) -> dict:
    """The reference: a loop over every material with the library's composition distance (first one wins ties)."""
    best, best_d = None, None
    for material in literature:
        d = composition_distance(amounts, material.amounts)
        if best_d is None or d < best_d:
            best, best_d = material, d
    return {"nearest_formula": best.formula, "nearest_distance": best_d}


def test_nearest_materials_matrix_equals_the_loop(db_path):
    literature = literature_materials(db_path)
    finder = NearestMaterials(literature)
    rng = np.random.default_rng(5)
    for _ in range(40):
        x = rng.uniform(0, 1.4)
        amounts = {"Li": 5.6, "P": 1.0, "S": 4.6, "Cl": 1.4 - x, "I": x}
        if rng.random() < 0.3:
            amounts["Ge"] = 0.1  # an element no literature material of the shipped data has on that site
        loop, matrix = nearest_material(amounts, literature), finder.nearest(amounts)
        assert matrix["nearest_distance"] == pytest.approx(loop["nearest_distance"], abs=1e-12)
        assert matrix["nearest_formula"] == loop["nearest_formula"]
