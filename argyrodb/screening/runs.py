"""Screening runs: compute every composition of a request not yet stored for the same run, in chunks
(optionally in worker processes), and hand each chunk to the store (:mod:`argyrodb.store.screening_runs`).
The same request (settings, template content, version) is the same run: a rerun resumes it."""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..core.errors import InputError, ParameterError
from ..core.files import atomic_path, atomic_write_text
from ..store.connection import database_path
from ..store.screening_runs import RunWriter, literature_materials, run_results
from .nearest import NearestMaterials
from .screener import Screener, ScreenSettings

__all__ = ["run_screen", "run_results", "export_results", "check_export_path", "NearestMaterials"]


_WORKER: dict = {}


def _worker_init(settings: ScreenSettings, literature) -> None:
    _WORKER["screener"] = Screener(settings, literature)


def _worker_chunk(indices: list[int]) -> list[dict]:
    return _WORKER["screener"].evaluate_chunk(indices)


def run_screen(settings: ScreenSettings, db_path: str | Path | None = None, jobs: int = 1, show_progress: bool = True,
               chunk_size: int = 1000) -> dict:
    """Compute every composition of ``settings`` not yet stored for the same run, in chunks; each chunk
    is written in one transaction, so an interrupted run resumes where it stopped."""
    from tqdm import tqdm

    path = database_path(db_path)
    if jobs < 1:
        raise ParameterError("jobs", f"need at least 1 job, got {jobs}")
    with RunWriter(path) as writer:
        literature = literature_materials(path)
        screener = Screener(settings, literature)
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
            _WORKER["screener"] = screener
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
