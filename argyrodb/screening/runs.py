"""Screening runs: compute every composition of a request not yet stored for the same run, in chunks, and hand
each chunk to the store (:mod:`argyrodb.store.screening_runs`). The same request (settings, template content,
version) is the same run: a rerun resumes it, however the chunks were computed.

Chunks are computed here, in worker processes on this machine (``jobs``), or by the workers of a Dask
distributed cluster (``dask``: a scheduler address, or "local" for a ``LocalCluster`` of ``jobs`` workers
started and stopped by the run). In every case this process is the one writer, at most a few chunks are in
flight, and the grid is never built whole, so a run of millions of compositions holds a few chunks in memory."""

from __future__ import annotations

import atexit
import dataclasses
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..core.errors import InputError, ParameterError
from ..core.files import atomic_path, atomic_write_text
from ..store.connection import database_path
from ..store.screening_runs import RunWriter, literature_materials, run_results
from .nearest import NearestMaterials
from .screener import Screener, ScreenSettings

__all__ = ["NearestMaterials", "check_export_path", "export_results", "run_results", "run_screen"]


_WORKER: dict = {}

#: Chunks in flight per worker: enough to keep every worker busy while the writer stores, few enough that
#: memory stays bounded whatever the size of the run.
IN_FLIGHT_PER_WORKER = 2


def _worker_init(settings: ScreenSettings, literature) -> None:
    _WORKER["screener"] = Screener(settings, literature)


def _worker_chunk(indices) -> list[dict]:
    return _WORKER["screener"].evaluate_chunk(indices)


def _dask_chunk(settings: ScreenSettings, literature, template_text: str, key: str, indices) -> bytes:
    """A chunk of run ``key`` computed on a Dask worker, pickled (one bytes object travels faster than Dask's
    walk through a thousand result dicts): the worker builds its :class:`Screener` once per run, with a copy of the
    template of its own when the client's path does not exist on its machine."""
    cached = _WORKER.get("dask")
    if cached is None or cached[0] != key:
        local = settings
        if not Path(settings.template).is_file():
            handle, name = tempfile.mkstemp(suffix=Path(settings.template).suffix or ".yaml", prefix="argyrodb-template-")
            with os.fdopen(handle, "w", encoding="utf-8") as fh:
                fh.write(template_text)
            atexit.register(Path(name).unlink, missing_ok=True)  # removed when the worker process ends
            local = dataclasses.replace(settings, template=name)
        cached = _WORKER["dask"] = (key, Screener(local, literature))
    return pickle.dumps(cached[1].evaluate_chunk(indices), protocol=pickle.HIGHEST_PROTOCOL)


def _bounded(submit, chunks, width: int, wait_first):
    """Results of ``submit(chunk)`` futures with at most ``width`` in flight, in the order they complete."""
    pending = set()
    for chunk in chunks:
        pending.add(submit(chunk))
        if len(pending) >= width:
            done, pending = wait_first(pending)
            for future in done:
                yield future.result()
    while pending:
        done, pending = wait_first(pending)
        for future in done:
            yield future.result()


def _computed_locally(screener: Screener, settings: ScreenSettings, literature, chunks, jobs: int):
    if jobs == 1:
        for chunk in chunks:
            yield screener.evaluate_chunk(chunk)
        return
    import concurrent.futures
    import multiprocessing

    def wait_first(pending):
        return concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)

    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                                                initargs=(settings, literature)) as pool:
        yield from _bounded(lambda chunk: pool.submit(_worker_chunk, chunk), chunks, IN_FLIGHT_PER_WORKER * jobs, wait_first)


def _computed_on_dask(address: str, settings: ScreenSettings, literature, chunks, jobs: int):
    """Chunks computed by the workers of the Dask cluster at ``address`` ("local": a LocalCluster of ``jobs``
    single-threaded worker processes, closed when the run ends)."""
    try:
        from dask.distributed import Client, LocalCluster, wait
    except ImportError:
        raise ParameterError("dask", "needs Dask distributed: pip install 'argyrodb[dask]'") from None
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            # Dask retries a refused connection until the timeout; ARGYRODB_DASK_CONNECT_TIMEOUT_S shortens it
            client = Client(address, timeout=f"{float(os.environ.get('ARGYRODB_DASK_CONNECT_TIMEOUT_S', '10')):g}s")
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise ParameterError("dask", f"cannot reach a Dask scheduler at {address!r}: {exc}") from None
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        template_text = Path(settings.template).read_text(encoding="utf-8")
        shared = client.scatter([settings, literature, template_text], broadcast=True)

        def wait_first(pending):
            done = wait(list(pending), return_when="FIRST_COMPLETED")
            return done.done, set(done.not_done)

        key = settings.key()
        for blob in _bounded(lambda chunk: client.submit(_dask_chunk, *shared, key, chunk, pure=False), chunks,
                             IN_FLIGHT_PER_WORKER * workers, wait_first):
            yield pickle.loads(blob)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _chunks_to_do(n_points: int, done: np.ndarray, chunk_size: int):
    """The point numbers not in ``done`` (sorted), ``chunk_size`` at a time, without an array of the whole grid."""
    pending = np.empty(0, dtype=np.int64)
    for start in range(0, n_points, chunk_size):
        block = np.arange(start, min(n_points, start + chunk_size), dtype=np.int64)
        if done.size:
            found = np.searchsorted(done, block)
            block = block[(found >= done.size) | (done[np.minimum(found, done.size - 1)] != block)]
        pending = np.concatenate([pending, block])
        while pending.size >= chunk_size:
            yield pending[:chunk_size]
            pending = pending[chunk_size:]
    if pending.size:
        yield pending


def run_screen(settings: ScreenSettings, db_path: str | Path | None = None, jobs: int = 1, show_progress: bool = True,
               chunk_size: int = 1000, dask: str | None = None) -> dict:
    """Compute every composition of ``settings`` not yet stored for the same run, in chunks of ``chunk_size``;
    each chunk is written in one transaction, so an interrupted run resumes where it stopped. ``jobs``: worker
    processes on this machine; ``dask``: a Dask scheduler address (tcp://host:8786) or "local" (module docstring)."""
    from tqdm import tqdm

    path = database_path(db_path)
    if jobs < 1:
        raise ParameterError("jobs", f"need at least 1 job, got {jobs}")
    if chunk_size < 1:
        raise ParameterError("chunk_size", f"need at least 1 composition per chunk, got {chunk_size}")
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
        n_points = len(screener.points)
        run_id = writer.open(key, settings.family, settings.__dict__, model, __version__, n_points)
        done = np.sort(writer.stored(run_id))
        n_todo = n_points - len(done)
        chunks = _chunks_to_do(n_points, done, chunk_size)
        bar = tqdm(total=n_points, initial=len(done), desc="screen", unit="comp", disable=not show_progress)
        counts = {"ok": 0, "skipped": 0}
        if dask is not None:
            computed = _computed_on_dask(dask, settings, literature, chunks, jobs)
        else:
            computed = _computed_locally(screener, settings, literature, chunks, jobs)
        try:
            for results in computed:
                writer.write(run_id, results)
                for r in results:
                    counts[r["status"]] += 1
                bar.update(len(results))
        finally:
            computed.close()  # stops the workers (and a local Dask cluster) even when a chunk failed
            bar.close()
        return {"run_id": run_id, "key": key, "n_points": n_points, "already_stored": len(done),
                "computed": n_todo, **counts}


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
