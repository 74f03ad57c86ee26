"""Screening runs: compute every composition of a request not yet stored for the same run, in chunks
(optionally in worker processes), and hand each chunk to the store (:mod:`argyrodb.store.screening_runs`).
The same request (settings, template content, version) is the same run: a rerun resumes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__
from ..core.errors import InputError, ParameterError
from ..core.files import atomic_path, atomic_write_text
from ..store.connection import database_path
from ..store.screening_runs import RunWriter, literature_materials, run_results
from .screener import Screener, ScreenSettings

__all__ = ["run_screen", "run_results", "export_results", "check_export_path", "NearestMaterials"]


class NearestMaterials:
    """The literature material nearest to a composition (total-variation distance of element fractions,
    0.5 sum |f - f_lit|, as :func:`argyrodb.store.literature.composition_distance`) with the number and spread of
    its measurements, as screening-result columns: the materials are one matrix of element fractions, so each
    lookup is one vector operation instead of a Python loop over every material."""

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
        if not self.literature:
            return {}
        total = sum(amounts.values())
        target = np.zeros(len(self.elements))
        outside = 0.0  # fractions of elements no literature material has
        for el, n in amounts.items():
            if el in self.column:
                target[self.column[el]] = n / total
            else:
                outside += abs(n / total)
        distances = 0.5 * (np.abs(self.matrix - target).sum(axis=1) + outside)
        row = int(np.argmin(distances))
        best = self.literature[row]
        return {"nearest_formula": best.formula, "nearest_distance": float(distances[row]), "nearest_n": best.n,
                "nearest_sigma_mS_cm": best.sigma_median, "nearest_sigma_min_mS_cm": best.sigma_min,
                "nearest_sigma_max_mS_cm": best.sigma_max}


_WORKER: dict = {}


def _worker_init(settings: ScreenSettings, literature) -> None:
    _WORKER["screener"] = Screener(settings)
    _WORKER["nearest"] = NearestMaterials(literature)


def _worker_chunk(indices: list[int]) -> list[dict]:
    screener, nearest = _WORKER["screener"], _WORKER["nearest"]
    out = screener.evaluate_chunk(indices)
    for result in out:
        if result["status"] == "ok":
            result.update(nearest.nearest(screener.points[result["idx"]][1]))
    return out


def run_screen(settings: ScreenSettings, db_path: str | Path | None = None, jobs: int = 1, show_progress: bool = True,
               chunk_size: int = 1000) -> dict:
    """Compute every composition of ``settings`` not yet stored for the same run, in chunks; each chunk
    is written in one transaction, so an interrupted run resumes where it stopped."""
    from tqdm import tqdm

    path = database_path(db_path)
    if jobs < 1:
        raise ParameterError("jobs", f"need at least 1 job, got {jobs}")
    with RunWriter(path) as writer:
        screener = Screener(settings)
        literature = literature_materials(path)
        key = settings.key()
        model = {
            "site_model": settings.distribution, "template": screener.model.template_name,
            "lattice": screener.fit.as_dict(), "xrd": {"wavelength": settings.wavelength,
                                                     "two_theta_range": list(settings.two_theta_range),
                                                     "anomalous_dispersion": settings.anomalous_dispersion},
        }
        run_id = writer.open(key, settings.family, settings.__dict__, model, __version__, len(screener.points))
        done = writer.stored(run_id)
        todo = [i for i in range(len(screener.points)) if i not in done]
        chunks = [todo[k:k + chunk_size] for k in range(0, len(todo), chunk_size)]
        bar = tqdm(total=len(screener.points), initial=len(done), desc="screen", unit="comp", disable=not show_progress)
        counts = {"ok": 0, "skipped": 0}

        def store(results: list[dict]) -> None:
            writer.write(run_id, results)
            for r in results:
                counts[r["status"]] += 1
            bar.update(len(results))

        if jobs == 1:
            _WORKER["screener"], _WORKER["nearest"] = screener, NearestMaterials(literature)
            for chunk in chunks:
                store(_worker_chunk(chunk))
        else:
            import concurrent.futures
            import multiprocessing

            context = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                                                        initargs=(settings, literature)) as pool:
                for results in pool.map(_worker_chunk, chunks):
                    store(results)
        bar.close()
        return {"run_id": run_id, "key": key, "n_points": len(screener.points), "already_stored": len(done),
                "computed": len(todo), **counts}


def check_export_path(out: str | Path) -> None:
    if Path(out).suffix.lower() not in (".csv", ".parquet"):
        raise InputError(out, "export to .csv or .parquet")


def export_results(frame, out: str | Path) -> Path:
    """Write a results DataFrame as CSV or Parquet (by suffix), atomically."""
    out = Path(out)
    check_export_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        with atomic_path(out) as tmp:
            frame.to_parquet(tmp, index=False)
        return out
    return atomic_write_text(out, frame.to_csv(index=False))
