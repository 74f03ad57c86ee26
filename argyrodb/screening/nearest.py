"""The literature material nearest to each screened composition."""

from __future__ import annotations

import numpy as np

#: Screening-result columns :meth:`NearestMaterials.nearest_arrays` fills.
NEAREST_COLUMNS = ("nearest_formula", "nearest_distance", "nearest_n", "nearest_sigma_mS_cm", "nearest_sigma_min_mS_cm",
                   "nearest_sigma_max_mS_cm")


class NearestMaterials:
    """The literature material nearest to a composition (total-variation distance of element fractions,
    0.5 sum |f - f_lit|, as :func:`argyrodb.store.literature.composition_distance`) with the number and spread of
    its measurements, as screening-result columns: the materials are one matrix of element fractions, so a chunk
    of compositions is one array operation instead of a Python loop over every material."""

    def __init__(self, literature):
        self.literature = list(literature)
        self.elements = sorted({el for m in self.literature for el in m.amounts})
        self.column = {el: i for i, el in enumerate(self.elements)}
        matrix = np.zeros((len(self.literature), len(self.elements)))
        for row, material in enumerate(self.literature):
            total = sum(material.amounts.values())
            for el, n in material.amounts.items():
                matrix[row, self.column[el]] = n / total
        self.matrix = matrix

    def nearest(self, amounts: dict[str, float]) -> dict:
        """The nearest material of one composition (element -> amount), as result columns ({} with no literature)."""
        elements = list(amounts)
        found = self.nearest_arrays(np.array([[amounts[el] for el in elements]], dtype=float), elements)
        return {name: column[0] for name, column in found.items()}

    def nearest_arrays(self, amounts: np.ndarray, elements: list[str]) -> dict[str, list]:
        """Column -> values (one per row of ``amounts``, compositions x ``elements``); {} with no literature.
        Elements no literature material has count fully in the distance (their fractions are |f - 0|)."""
        if not self.literature:
            return {}
        amounts = np.asarray(amounts, dtype=float).reshape(-1, len(elements))
        fractions = amounts / amounts.sum(axis=1, keepdims=True)
        target = np.zeros((len(amounts), len(self.elements)))
        outside = np.zeros(len(amounts))
        for j, el in enumerate(elements):
            if el in self.column:
                target[:, self.column[el]] += fractions[:, j]
            else:
                outside += np.abs(fractions[:, j])
        distances = 0.5 * (np.abs(target[:, None, :] - self.matrix[None, :, :]).sum(axis=2) + outside[:, None])
        best = np.argmin(distances, axis=1)  # the first of equals, as a loop would keep
        materials = [self.literature[int(b)] for b in best]
        return {"nearest_formula": [m.formula for m in materials],
                "nearest_distance": [float(d) for d in distances[np.arange(len(amounts)), best]],
                "nearest_n": [m.n for m in materials], "nearest_sigma_mS_cm": [m.sigma_median for m in materials],
                "nearest_sigma_min_mS_cm": [m.sigma_min for m in materials],
                "nearest_sigma_max_mS_cm": [m.sigma_max for m in materials]}
