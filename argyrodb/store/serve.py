"""Browse the database with Datasette (optional extra: pip install 'argyrodb[serve]'), read-only, on
localhost by default, with titles and descriptions of every table and column from ``datasette.yaml`` and the
bounds on every web query of ``datasette_plugin``.

Units are written into the column descriptions, and those pint reads are also handed to Datasette as each table's
``units`` (the JSON's ``"units"``; a filter may give a quantity: ``?sigma_mS_cm__gt=0.001 S/cm`` is 1 mS/cm). Cells are
still shown as stored - the plugin renders every cell of a column with a unit, never Datasette's pint conversion
(2.44 mS/cm stays 2.44 in the ``sigma_mS_cm`` column, it would otherwise read 0.244 S/m).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..core.errors import InputError, ParameterError
from .connection import ReadOnlyDatabase, database_path

try:  # the plugin module is a Datasette plugin: it imports datasette, which only the serve extra installs
    from .datasette_plugin import ArgyrodbPlugin
except ImportError as exc:
    #: Why the plugin did not import (None: it did); serve() says so before it needs the plugin.
    PLUGIN_IMPORT_ERROR: str | None = f"{type(exc).__name__}: {exc}"
else:
    PLUGIN_IMPORT_ERROR = None


@lru_cache(maxsize=1)
def metadata_file() -> dict:
    """The parsed ``store/datasette.yaml``: units and table/column descriptions."""
    import yaml

    return yaml.safe_load((resources.files("argyrodb.store") / "datasette.yaml").read_text(encoding="utf-8"))


def template_dir() -> Path:
    """The researcher's pages' templates (``store/templates``, shipped in the wheel)."""
    return Path(str(resources.files("argyrodb.store") / "templates"))


#: Units of columns not in ``units`` of datasette.yaml, by the end of their name (sigma_bound_mS_cm, temperature_K).
UNIT_SUFFIXES = (("_mS_cm", "mS/cm"), ("_mA_cm2", "mA/cm^2"), ("_angstrom3", "angstrom^3"), ("_angstrom2", "angstrom^2"),
                 ("_angstrom", "angstrom"), ("_deg", "degree"), ("_g_cm3", "g/cm^3"), ("_cm3_mol", "cm^3/mol"),
                 ("_K", "K"), ("_eV", "eV"), ("_ohm", "ohm"))


def column_unit(column: str) -> str | None:
    """The unit of a column: ``units`` of datasette.yaml, else by the end of its name; None without one."""
    units = metadata_file()["units"]
    if column in units:
        return units[column]
    return next((unit for suffix, unit in UNIT_SUFFIXES if column.endswith(suffix)), None)


def column_descriptions() -> dict[str, dict[str, str]]:
    """table -> column -> description, each with its unit in brackets where the column has one."""
    data = metadata_file()
    precision = data.get("precision") or {}
    out: dict[str, dict[str, str]] = {}
    for table, spec in data["tables"].items():
        texts: dict[str, str] = {}
        for other in spec.get("describe_from") or []:  # a view: the descriptions of the tables it joins
            for column, text in (data["tables"][other].get("columns") or {}).items():
                texts.setdefault(column, text)
        texts.update(spec.get("columns") or {})
        out[table] = {}
        for column, text in texts.items():
            unit = column_unit(column)
            if unit:
                text = f"{text} [{unit}]"
            if column in precision:
                text += f" (page: {precision[column]} decimals; JSON, CSV: as stored)"
            out[table][column] = text
    return out


def precision() -> dict[str, int]:
    """Column -> decimals its numbers are shown with on HTML pages (``precision`` of ``datasette.yaml``)."""
    return dict(metadata_file().get("precision") or {})


def table_columns(db: ReadOnlyDatabase) -> dict[str, set[str]]:
    """Table or view -> its columns, for the tables ``datasette.yaml`` describes that the database has."""
    out = {}
    for name in metadata_file()["tables"]:
        names = {row[1] for row in db.execute("SELECT * FROM pragma_table_info(?)", [name])[1]}
        if names:
            out[name] = names
    return out


#: SQLite's numeric declared types (type affinity, https://www.sqlite.org/datatype3.html section 3.1): only such
#: columns get Datasette units (Datasette multiplies a cell by its unit: a text value there would fail).
_NUMERIC_AFFINITY = ("INT", "REAL", "FLOA", "DOUB", "NUM", "DEC")


def numeric_columns(db: ReadOnlyDatabase) -> dict[str, set[str]]:
    """Table or view -> its columns of numeric declared type, for the tables ``datasette.yaml`` describes (a view's
    computed column has no declared type and is left out)."""
    out = {}
    for name in metadata_file()["tables"]:
        rows = db.execute("SELECT name, type FROM pragma_table_info(?)", [name])[1]
        out[name] = {column for column, kind in rows if any(k in (kind or "").upper() for k in _NUMERIC_AFFINITY)
                     and "CHAR" not in (kind or "").upper() and "TEXT" not in (kind or "").upper()}
    return out


def pint_unit(unit: str) -> bool:
    """Whether Datasette's pint registry reads ``unit`` as a unit (magnitude 1, integer exponents): 'mS/cm',
    'angstrom^3', '1/min' are; 'e per formula unit' is not, nor the CPE's 'F s^(alpha-1)' (pint reads alpha as the
    fine-structure constant: exponent 0.9927)."""
    from datasette.views.base import ureg  # the registry Datasette converts filters with

    try:
        quantity = ureg(unit)
    except Exception:  # pint's parser raises UndefinedUnitError, tokenize errors, AssertionError, ...
        return False
    magnitude = getattr(quantity, "magnitude", None)
    exponents = getattr(getattr(quantity, "units", None), "_units", {})
    return magnitude == 1 and all(float(e).is_integer() for e in dict(exponents).values())


def datasette_units(columns: set[str]) -> dict[str, str]:
    """Column -> unit for Datasette's ``units`` of one table: the numeric ``columns`` whose unit pint reads."""
    return {column: unit for column in sorted(columns) if (unit := column_unit(column)) and pint_unit(unit)}


def datasette_metadata(database_name: str = "argyrodb", existing: dict[str, set[str]] | None = None,
                       numeric: dict[str, set[str]] | None = None) -> dict:
    """Datasette's metadata; ``existing`` (table -> columns, :func:`table_columns`) keeps each table's descriptions to
    the columns it has (a view's borrowed ones included); ``numeric`` (:func:`numeric_columns`) gives each table its
    Datasette ``units`` (needs Datasette installed)."""
    data = metadata_file()
    columns = column_descriptions()
    if existing is not None:
        columns = {table: {c: text for c, text in described.items() if table not in existing or c in existing[table]}
                   for table, described in columns.items()}
    labels = data.get("label_columns") or {}
    tables = {}
    for name, spec in data["tables"].items():
        tables[name] = {"title": spec["title"], "description": spec["description"], "columns": columns.get(name, {})}
        if name in labels:
            tables[name]["label_column"] = labels[name]
        if numeric is not None and numeric.get(name):
            tables[name]["units"] = datasette_units(numeric[name])
    queries = {query: {key: value for key, value in spec.items() if key != "parameter_types"}
               for query, spec in (data.get("queries") or {}).items()}
    return {
        "title": "argyrodb",
        "description": "Lithium argyrodite solid electrolytes: literature, measurements, structures (read-only).",
        "license": "project data; OBELiX rows CC BY 4.0 (see attribution column)",
        "databases": {database_name: {"tables": tables, "queries": queries}},
    }


def parameter_types() -> dict[str, dict[str, str]]:
    """Canned query -> parameter -> 'real' | 'integer': the parameters its SQL CASTs to a number."""
    return {name: dict(spec["parameter_types"]) for name, spec in (metadata_file().get("queries") or {}).items()
            if spec.get("parameter_types")}


#: Datasette settings (typed, as Datasette's own defaults): no facet suggestions (each costs a query per column on
#: every table page, seconds at 100k screening rows), bounded facet and SQL time, long texts (attributions, CIFs)
#: cut to 120 characters in table cells (the row page and the JSON keep them whole). Bounds on a response:
#: max_returned_rows rows per statement (Datasette's default, stated here because the plugin's byte budget per
#: statement assumes it), a CSV download of a whole table (`_stream`) cut at max_csv_mb.
DATASETTE_SETTINGS = {"suggest_facets": False, "facet_time_limit_ms": 200, "sql_time_limit_ms": 5000,
                      "truncate_cells_html": 120, "max_returned_rows": 1000, "max_csv_mb": 100}


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port), or a one-line ParameterError naming the option.
    The server is then run on this very socket, so no other process can take the port between the check and
    the serving."""
    if not 0 <= port <= 65535:
        raise ParameterError("port", f"{port} is not a TCP port (0 to 65535)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as exc:
        raise ParameterError("host", f"cannot resolve {host!r} ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        # as uvicorn does: a port left in TIME_WAIT by a stopped server is reused; one another socket listens on is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ParameterError("port", f"port {port} on {host} is already in use (another server?): choose another") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ParameterError("port", f"not allowed to listen on port {port} ({exc.strerror}): use one above 1023") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ParameterError("host", f"{host!r} is not an address of this machine") from None
        raise ParameterError("host", f"cannot listen on {host}:{port} ({exc.strerror})") from None
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(db_path: str | Path | None, host: str = "127.0.0.1", port: int = 8001, writable: bool = False,
          on_ready: Callable[[str], None] | None = None) -> int:
    """Serve the database with Datasette until this process is told to stop (SIGINT, SIGTERM), then return 0.

    Every check comes first - Datasette installed, the file an argyrodb database of this schema version, the port
    free - and raises a one-line InputError; then ``on_ready(url)`` is called (the CLI announces the server) and
    the server runs. The database is opened read-only (``mode=ro`` and ``PRAGMA query_only``) unless
    ``writable``, and never in Datasette's immutable mode, which caches row counts (a `db add` during serving
    would not show). Every connection gets the limits of :mod:`argyrodb.store.datasette_plugin`.

    Datasette runs in this process (uvicorn on the socket bound here), not as a child: a child outlives a
    parent killed with SIGKILL and keeps answering on the port, and the Linux-only PR_SET_PDEATHSIG is the
    remedy for that; with no child there is nothing to outlive us, on any system, and the port checked is the
    port served."""
    import importlib.util

    if importlib.util.find_spec("datasette") is None:
        raise InputError("db serve", "Datasette is not installed: pip install 'argyrodb[serve]'")
    if PLUGIN_IMPORT_ERROR is not None:  # installed, but it (or a package it needs) does not import
        raise InputError("db serve", f"Datasette is installed but does not import ({PLUGIN_IMPORT_ERROR}): "
                                     "pip install --upgrade 'argyrodb[serve]'")
    path = database_path(db_path)
    with ReadOnlyDatabase(path) as db:  # a missing file, another file or another schema version: one line, before binding
        existing = table_columns(db)
        numeric = numeric_columns(db)
    sock = bind_socket(host, port)
    try:
        import asyncio

        from datasette.app import Datasette
        from datasette.plugins import pm

        name = path.stem
        plugin = ArgyrodbPlugin(name, writable, parameter_types(), precision())
        pm.register(plugin, name="argyrodb")
        try:
            app = Datasette([str(path)], immutables=[], metadata=datasette_metadata(name, existing, numeric), settings=DATASETTE_SETTINGS,
                            template_dir=str(template_dir()))
            if on_ready is not None:
                on_ready(_url(sock))
            asyncio.run(_run(app, sock))
        finally:
            pm.unregister(plugin)
    finally:
        sock.close()
    return 0


async def _run(app, sock: socket.socket) -> None:
    import uvicorn

    await app.invoke_startup()
    host, port = sock.getsockname()[:2]
    # uvicorn stops gracefully on SIGINT/SIGTERM and then raises the signal again (Ctrl-C ends as KeyboardInterrupt)
    config = uvicorn.Config(app.app(), host=host, port=port, lifespan="on", log_level="info")
    await uvicorn.Server(config).serve(sockets=[sock])
