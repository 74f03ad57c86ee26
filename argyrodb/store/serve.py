"""Browse the database with Datasette (optional extra: pip install 'argyrodb[serve]'), read-only, on
localhost by default, with titles and descriptions of every table and column from ``datasette.yaml``.

Units are written into the column descriptions and never handed to Datasette's unit conversion, so a
value is shown as stored (2.44 mS/cm stays 2.44 in the ``sigma_mS_cm`` column).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..core.errors import InputError
from .connection import database_path


@lru_cache(maxsize=1)
def metadata_file() -> dict:
    """The parsed ``store/datasette.yaml``: units and table/column descriptions."""
    import yaml

    return yaml.safe_load((resources.files("argyrodb.store") / "datasette.yaml").read_text(encoding="utf-8"))


def column_descriptions() -> dict[str, dict[str, str]]:
    """table -> column -> description, each with its unit in brackets where the column has one."""
    data = metadata_file()
    units = data["units"]
    out: dict[str, dict[str, str]] = {}
    for table, spec in data["tables"].items():
        out[table] = {column: f"{text} [{units[column]}]" if column in units else text
                      for column, text in (spec.get("columns") or {}).items()}
    return out


def datasette_metadata(database_name: str = "argyrodb") -> dict:
    data = metadata_file()
    columns = column_descriptions()
    labels = data.get("label_columns") or {}
    tables = {}
    for name, spec in data["tables"].items():
        tables[name] = {"title": spec["title"], "description": spec["description"], "columns": columns.get(name, {})}
        if name in labels:
            tables[name]["label_column"] = labels[name]
    return {
        "title": "argyrodb",
        "description": "Lithium argyrodite solid electrolytes: literature, measurements, structures (read-only).",
        "license": "project data; OBELiX rows CC BY 4.0 (see attribution column)",
        "databases": {database_name: {"tables": tables, "queries": data.get("queries") or {}}},
    }


#: Datasette settings: no facet suggestions (each costs a query per column on every table page, seconds at
#: 100k screening rows), bounded facet and SQL time, long texts (attributions, CIFs) cut to 120 characters in
#: table cells (the row page and the JSON keep them whole).
DATASETTE_SETTINGS = {"suggest_facets": "off", "facet_time_limit_ms": "200", "sql_time_limit_ms": "5000",
                      "truncate_cells_html": "120"}


def serve_command(db_path: str | Path | None, host: str, port: int, writable: bool, metadata_path: str | Path) -> list[str]:
    """The datasette command line (immutable mode unless ``writable``), its metadata read from
    ``metadata_path``."""
    import importlib.util
    import sys

    if importlib.util.find_spec("datasette") is None:
        raise InputError("db serve", "Datasette is not installed: pip install 'argyrodb[serve]'")
    path = database_path(db_path)
    if not path.is_file():
        raise InputError(path, "no database here: run `argyrodb db build` first")
    mode = [str(path)] if writable else ["-i", str(path)]
    settings = [arg for name, value in DATASETTE_SETTINGS.items() for arg in ("--setting", name, value)]
    return [sys.executable, "-m", "datasette", "serve", *mode, "--host", host, "--port", str(port), "--metadata",
            str(metadata_path), *settings]


def serve(db_path: str | Path | None, host: str = "127.0.0.1", port: int = 8001, writable: bool = False) -> int:
    """Run Datasette on the database until it stops or this process is told to stop (SIGTERM, SIGINT,
    SIGHUP are passed on to Datasette, which is waited for); its metadata lives in a temporary folder that
    is removed afterwards. Returns Datasette's exit status."""
    import json
    import signal
    import subprocess
    import tempfile

    path = database_path(db_path)
    with tempfile.TemporaryDirectory(prefix="argyrodb-serve-") as folder:
        metadata = Path(folder) / "metadata.json"
        metadata.write_text(json.dumps(datasette_metadata(path.stem)), encoding="utf-8")
        command = serve_command(path, host, port, writable, metadata)
        child = subprocess.Popen(command)

        def forward(signum, _frame):
            if child.poll() is None:
                child.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            return child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
