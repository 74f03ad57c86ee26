"""The Datasette plugin ``argyrodb db serve`` registers: the CLI's limits on every connection, a bound on the
memory one web query may take, and 400 answers (with a message) for requests that are the caller's mistake.

Registered from :func:`argyrodb.store.serve.serve` through Datasette's plugin manager (it is an ordinary module of
the package, so a wheel install carries it). Imported only when Datasette is installed.

Why each bound is needed (measured with Datasette 0.65 before this plugin): ``?sql=select randomblob(1000000000)``
answered 200 after 32-58 s with the server at 7.7 GB resident; Datasette's ``sql_time_limit_ms`` does not stop it,
because one function call is one step of SQLite's program and the time-limit handler runs between steps.

- ``SQLITE_LIMIT_LENGTH`` = :data:`~argyrodb.store.connection.MAX_VALUE_BYTES` (as ``argyrodb db sql``): no value
  larger than that is built ("string or blob too big").
- ``PRAGMA hard_heap_limit`` = :data:`SQLITE_HEAP_LIMIT_BYTES`: a row of many values just under that limit
  (``select randomblob(4e7), randomblob(4e7), ...``) is built inside SQLite before Python sees it; SQLite's
  allocator refuses beyond the heap limit. It is process-wide, which is right here: the serving process does
  nothing else.
- a row factory counting the bytes of the values one statement has returned, refused beyond
  :data:`WEB_QUERY_MAX_BYTES`: Datasette keeps up to ``max_returned_rows`` rows of a statement in memory and then
  encodes them (base64 for blobs, JSON or HTML), so rows x value size is what a response costs.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
import weakref
from urllib.parse import parse_qs, quote, unquote, urlencode

from datasette import hookimpl

from ..core.errors import InputError
from . import optimade_server, site
from .connection import MAX_VALUE_BYTES
from .queries import normalise_formula

#: SQLite's heap in the serving process (all connections): a few of the largest values plus page caches.
SQLITE_HEAP_LIMIT_BYTES = 4 * MAX_VALUE_BYTES
#: Bytes of text and blob values one statement may return to Datasette (each other value counts 8). A response
#: costs several times its values (blobs go out as base64 inside JSON): measured, the server peaks at 200 MB
#: resident for one statement at this budget and 540 MB for eight at once (at 50 MB: 440 MB and 1 GB). The
#: database's largest values (CIF texts) are a few kB.
WEB_QUERY_MAX_BYTES = 20_000_000
#: Datasette's messages for a bad ``_sort``/``_sort_desc`` of a table page, which it answers with status 500.
_SORT_MESSAGES = ("Cannot sort table by ", "Cannot use _sort and _sort_desc at the same time")
#: The canned query whose ``formula`` parameter is normalised (a redirect) before it runs.
FORMULA_QUERY = "where_does_a_material_stand"
#: Datasette's messages for a ``_through`` naming no foreign key, which it answers with status 500.
_THROUGH_MESSAGES = ("Invalid _through",)


def _value_bytes(value) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 8


def budgeted_row_factory(max_bytes: int = WEB_QUERY_MAX_BYTES):
    """A ``row_factory`` giving ``sqlite3.Row`` (as Datasette's own) that raises ``sqlite3.OperationalError`` once
    the rows fetched through one cursor hold more than ``max_bytes`` of values. Datasette opens a cursor for each
    statement, so the budget is per statement; Datasette answers an OperationalError with status 400."""
    spent_bytes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def factory(cursor, values):
        total = spent_bytes.get(cursor, 0) + sum(_value_bytes(v) for v in values)
        if total > max_bytes:
            raise sqlite3.OperationalError(
                f"the result is larger than the server's limit of {max_bytes // 1_000_000} MB per query: "
                "select fewer rows or smaller values (the argyrodb CLI's `db sql` has no such limit)")
        spent_bytes[cursor] = total
        return sqlite3.Row(cursor, values)

    return factory


def limit_connection(conn: sqlite3.Connection, read_only: bool) -> None:
    """The bounds above on one connection; ``read_only`` also sets ``PRAGMA query_only`` (a second lock beside
    the ``mode=ro`` Datasette opens a mutable database's read connections with)."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_LIMIT_BYTES}")
    conn.row_factory = budgeted_row_factory()
    if read_only:
        conn.execute("PRAGMA query_only = 1")


def display_number(value: float, decimals: int | None) -> str:
    """``value`` rounded to ``decimals`` (None: 6 significant figures), trailing zeros dropped: 9.98842310115908 with
    5 decimals is '9.98842', 4.0 with 0 is '4', 0.4345654345654346 with 4 is '0.4346', 9.8499 with 5 stays '9.8499'."""
    text = f"{value:.{decimals}f}" if decimals is not None else f"{value:.6g}"
    if "e" not in text and "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def parameter_problem(name: str, value: str, kind: str) -> str | None:
    """Why ``value`` is not a usable ``kind`` ('real' or 'integer') for the canned-query parameter ``name``, or
    None. A blank value is left to Datasette (the query page shows its form)."""
    text = value.strip()
    if not text:
        return None
    try:
        number = int(text) if kind == "integer" else float(text)
    except ValueError:
        return f"{name}: {value!r} is not {'an integer' if kind == 'integer' else 'a number'}"
    if not math.isfinite(number):
        return f"{name}: {value!r} is not a finite number"
    return None


class ArgyrodbPlugin:
    """Datasette hooks for one served database: ``database`` its name in Datasette, ``writable`` whether its
    connections may write, ``parameter_types`` query name -> parameter -> 'real' | 'integer' (from
    ``datasette.yaml``): SQL's CAST turns 'abc' into 0, so a typo would silently give another answer."""

    def __init__(self, database: str, writable: bool, parameter_types: dict[str, dict[str, str]],
                 precision: dict[str, int] | None = None):
        self.__name__ = __name__  # Datasette lists plugins (/-/plugins) by their module's name
        self.database = database
        self.writable = writable
        self.parameter_types = parameter_types
        self.precision = precision or {}
        #: table -> its foreign-key columns that have a label: column -> (other table, its key column, label column)
        self._foreign_keys: dict[str, dict[str, tuple[str, str, str]]] = {}

    @hookimpl
    def extra_template_vars(self, datasette):
        return {"measurements_url": site.measurements_view_path(self.database)}

    @hookimpl
    def render_cell(self, row, value, column, table, database, datasette):
        """HTML cells only (the JSON and CSV keep the stored values): a number to its column's decimals
        (``precision`` of datasette.yaml) or else 6 significant figures, trailing zeros dropped (a = 9.98842,
        z = 4); a structure's CIF as a link to the whole file (/structure/<id>.cif) instead of 120 characters; a
        material's formula as a link to its page."""
        if database != self.database:
            return None
        if column == "cif_text" and table == "structures" and isinstance(value, str) and "id" in row.keys():  # noqa: SIM118 (in a sqlite3.Row, `in` looks at the values)
            from markupsafe import Markup, escape

            return Markup(f'<a href="/structure/{int(row["id"])}.cif" download>download CIF</a> '
                          f'({len(value):,} characters) <code>{escape(value[:60])}...</code>')
        if column == "formula" and table in ("measurements_full", "materials") and isinstance(value, str) and value:
            from markupsafe import Markup, escape

            return Markup(f'<a href="/material/{quote(value, safe="")}">{escape(value)}</a>')
        if isinstance(value, float) and math.isfinite(value):
            return display_number(value, self.precision.get(column))
        if table is not None and value is not None and column in (datasette.table_metadata(database, table).get("units") or {}):
            from markupsafe import escape

            return escape(str(value))  # as stored: Datasette would show the value converted by pint (2.44 mS/cm as 0.244 S/m)
        if isinstance(value, int) and not isinstance(value, bool) and table is not None:
            return self._foreign_key_label(datasette, table, column, value)
        return None

    def _foreign_key_label(self, datasette, table: str, column: str, value: int):
        """A foreign key's cell as Datasette's table pages show an expanded one (``<a href=row>label</a> <em>id</em>``:
        a measurement's material_id shows its formula) on the pages that leave it a bare number - a row page, which
        Datasette 0.65 never expands. The label column is the other table's ``label_columns`` entry of datasette.yaml.
        The foreign keys of each table are read once (they change only with a migration, i.e. a new server); a cell
        that is no such foreign key returns None without a query."""
        known = self._foreign_keys.get(table)
        if known is not None and column not in known:
            return None

        async def label():
            from datasette.utils import escape_sqlite
            from markupsafe import Markup, escape

            db = datasette.get_database(self.database)
            keys = self._foreign_keys.get(table)
            if keys is None:
                keys = {}
                for fk in await db.foreign_keys_for_table(table):
                    label_column = await db.label_column_for_table(fk["other_table"])
                    if label_column:
                        keys[fk["column"]] = (fk["other_table"], fk["other_column"], label_column)
                self._foreign_keys[table] = keys
            if column not in keys:
                return None
            other, other_column, label_column = keys[column]
            rows = (await db.execute(f"SELECT {escape_sqlite(label_column)} FROM {escape_sqlite(other)} "
                                     f"WHERE {escape_sqlite(other_column)} = ?", [value])).rows
            if not rows or rows[0][0] is None:
                return None
            href = datasette.urls.row(self.database, other, str(value))
            return Markup(f'<a href="{escape(href)}">{escape(str(rows[0][0]))}</a>&nbsp;<em>{value}</em>')

        return label()

    @hookimpl
    def prepare_connection(self, conn, database, datasette):
        # _internal is Datasette's own schema cache, which it writes to
        limit_connection(conn, read_only=database == self.database and not self.writable)

    @hookimpl(wrapper=True)
    def handle_exception(self, datasette, request, exception):
        responses = yield
        from datasette.views.base import DatasetteError

        if isinstance(exception, DatasetteError) and exception.status == 500 and str(exception.message).startswith(_SORT_MESSAGES):
            given = ", ".join(f"{k}={request.args.get(k)}" for k in ("_sort", "_sort_desc") if request.args.get(k) is not None)
            answer = ("Invalid sort", f"{exception.message} ({given or 'the table default'}: no such column here)")
        elif isinstance(exception, DatasetteError) and exception.status == 500 and str(exception.message).startswith(_THROUGH_MESSAGES):
            answer = ("Invalid parameter", f"{exception.message} (_through={request.args.get('_through')})")
        elif _is_interrupted(exception):  # a CSV export past the time limit (_timelimit or sql_time_limit_ms)
            answer = ("SQL interrupted", "the query took longer than its time limit (_timelimit, or the server's "
                                         f"{datasette.setting('sql_time_limit_ms')} ms): select fewer rows")
        elif isinstance(exception, sqlite3.DataError):  # "string or blob too big" (SQLITE_LIMIT_LENGTH)
            answer = ("Query too large", f"{exception} (the server's limit is {MAX_VALUE_BYTES // 1_000_000} MB per value)")
        elif isinstance(exception, ValueError) and _bad_argument(request):
            # Datasette parses some arguments without checking them (_next of a view, _through, _timelimit):
            # int('abc') or json.loads('abc') there is the caller's mistake, not the server's
            answer = ("Invalid parameter", f"{_bad_argument(request)}: {exception}")
        elif _is_not_found(exception) and exception.__traceback__ is None:
            # no route matched: Datasette's default handler prints the traceback of an exception never raised,
            # and rich's printer then fails (HTTP 500 for /material/Li5.6PS4.6I0.6Cl0.8 before the material pages)
            return [lambda: error_response(datasette, request, 404, "Not found", str(exception) or "Not found")]
        elif isinstance(exception, MemoryError):  # SQLite's hard heap limit (SQLITE_NOMEM arrives as MemoryError)
            answer = ("Query too large",
                      f"the query needs more than the server's {SQLITE_HEAP_LIMIT_BYTES // 1_000_000} MB of SQLite memory")
        else:
            return responses
        # Only this answer: Datasette awaits every response of the hook, and its default one prints a traceback.
        return [lambda: error_response(datasette, request, 400, *answer)]

    @hookimpl
    def asgi_wrapper(self, datasette):
        def wrap(app):
            async def checked(scope, receive, send):
                if scope["type"] != "http":
                    return await app(scope, receive, send)
                from datasette.utils.asgi import Request, Response

                problem = self._request_problem(datasette, scope)
                if problem is None:
                    try:
                        normalised = self._normalised_formula_url(datasette, scope)
                    except InputError as exc:
                        problem = str(exc)
                    else:
                        if normalised is None:
                            return await app(scope, receive, send)
                        return await Response.redirect(normalised).asgi_send(send)
                response = await error_response(datasette, Request(scope, receive), 400, "Invalid parameter", problem)
                await response.asgi_send(send)

            return checked

        return wrap

    @hookimpl
    def register_routes(self, datasette):
        """The researcher's pages (issue 24): the landing page, the search, a page per material, CIF downloads,
        the literature chart."""
        plugin = self

        def page(function):
            async def view(request, datasette):
                try:
                    return await function(plugin, datasette, request)
                except InputError as exc:  # ParameterError too: a bad formula, element or number
                    return await error_response(datasette, request, 400, "Invalid parameter", str(exc))
                except LookupError as exc:
                    return await error_response(datasette, request, 404, "Not found", str(exc.args[0] if exc.args else exc))

            return view

        return [(r"^/$", page(ArgyrodbPlugin._home)),
                (r"^/search$", page(ArgyrodbPlugin._search)),
                (r"^/material/(?P<formula>[^/]*)$", page(ArgyrodbPlugin._material)),
                (r"^/structure/(?P<structure>[^/]*)\.cif$", page(ArgyrodbPlugin._cif)),
                (r"^/chart$", page(ArgyrodbPlugin._chart)),
                (r"^/chart\.png$", page(ArgyrodbPlugin._chart_png)),
                (r"^/chart/composition\.png$", page(ArgyrodbPlugin._composition_png)),
                (r"^/optimade(/.*)?$", ArgyrodbPlugin._optimade_view(plugin))]

    @staticmethod
    def _optimade_view(plugin):
        """The OPTIMADE API (:mod:`argyrodb.store.optimade_server`): its own JSON:API error documents, not the site's
        pages; a missing optimade package is a 501 document saying how to install it."""
        async def view(request, datasette):
            from datasette.utils.asgi import Response

            origin = f"{request.scheme}://{request.host}"
            try:
                import optimade  # noqa: F401 (the optimade extra: the filter grammar and the entries' models)
            except ImportError:
                error = optimade_server.OptimadeError(501, "the OPTIMADE API needs optimade-python-tools: "
                                                           "pip install 'argyrodb[optimade]'")
                return Response(json.dumps(optimade_server.error_document(error, request.path)), status=501,
                                content_type=optimade_server.JSON_API)
            status, content_type, body = await asyncio.to_thread(
                optimade_server.answer, plugin._path(datasette), request.path, request.query_string, origin)
            return Response(body, status=status, content_type=content_type)

        return view

    def _path(self, datasette) -> str:
        return datasette.get_database(self.database).path

    async def _render(self, datasette, request, template: str, context: dict):
        from datasette.utils.asgi import Response

        context = {"database": self.database, "number": site.number, "quote": quote, **context}
        return Response.html(await datasette.render_template(template, context, request=request))

    async def _home(self, datasette, request):
        facts = await asyncio.to_thread(site.home, self._path(datasette))
        return await self._render(datasette, request, "argyrodb_home.html", {"facts": facts})

    async def _search(self, datasette, request):
        from datasette.utils.asgi import Response

        args = parse_qs(request.query_string, keep_blank_values=True)
        result = await asyncio.to_thread(site.search, args, self._path(datasette))
        if result["redirect"]:
            return Response.redirect("/material/" + quote(result["redirect"], safe=""))
        home = await asyncio.to_thread(site.home, self._path(datasette))
        return await self._render(datasette, request, "argyrodb_search.html", {"result": result, "facts": home, "args": args})

    async def _material(self, datasette, request):
        text = unquote(request.url_vars["formula"])
        data = await asyncio.to_thread(site.material_page, text, self._path(datasette))
        return await self._render(datasette, request, "argyrodb_material.html", {"m": data})

    async def _cif(self, datasette, request):
        from datasette.utils.asgi import Response

        name, text = await asyncio.to_thread(site.cif_file, unquote(request.url_vars["structure"]), self._path(datasette))
        return Response(text, status=200, content_type="chemical/x-cif; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    async def _chart(self, datasette, request):
        return await self._render(datasette, request, "argyrodb_chart.html", {})

    async def _chart_png(self, datasette, request):
        from datasette.utils.asgi import Response

        png = await asyncio.to_thread(site.literature_chart_png, self._path(datasette))
        return Response(png, status=200, content_type="image/png")

    async def _composition_png(self, datasette, request):
        from datasette.utils.asgi import Response

        png = await asyncio.to_thread(site.composition_chart_png, self._path(datasette))
        return Response(png, status=200, content_type="image/png")

    def _normalised_formula_url(self, datasette, scope) -> str | None:
        """For the canned query where_does_a_material_stand with a formula written otherwise than the database
        writes it ('Li6PS5Cl1', 'Li5.6PS4.6I0.6Cl0.8'): the same URL with the normalised formula (it matched no row
        and said nothing before); else None. A non-formula raises InputError."""
        page = datasette.urls.table(self.database, FORMULA_QUERY)
        path = scope.get("path", "")
        if path != page and not (path.startswith(page + ".") and "/" not in path[len(page):]):
            return None
        args = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        written = [v for v in args.get("formula", []) if v.strip()]
        if len(written) != 1:
            return None
        _, facts = normalise_formula(written[0])
        if facts["formula"] == written[0]:
            return None
        args["formula"] = [facts["formula"]]
        return path + "?" + urlencode(args, doseq=True)

    def _request_problem(self, datasette, scope) -> str | None:
        path = scope.get("path", "")
        problem = argument_problem(parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if problem:
            return problem
        problem = self._unit_problem(datasette, path, parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if problem:
            return problem
        for query, types in self.parameter_types.items():
            page = datasette.urls.table(self.database, query)
            if path != page and not (path.startswith(page + ".") and "/" not in path[len(page):]):
                continue
            args = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            for name, kind in types.items():
                for value in args.get(name, []):
                    problem = parameter_problem(name, value, kind)
                    if problem:
                        return problem
        return None


    def _unit_problem(self, datasette, path: str, args: dict[str, list[str]]) -> str | None:
        """Why a filter on a column with a unit (a table's ``units``) is unusable, or None. Datasette reads such a
        filter's value with pint (``?sigma_mS_cm__gt=0.001 S/cm`` is 1 mS/cm, a bare number is in the column's unit)
        and answers 500 for a value pint cannot read ('abc') or a quantity of another dimension ('1 K')."""
        from datasette.views.base import ureg

        prefix = datasette.urls.database(self.database) + "/"
        if not path.startswith(prefix):
            return None
        name = unquote(path[len(prefix):])
        if "/" in name:
            return None  # a row page: no filters
        units: dict[str, str] = {}
        for candidate in (name, name.rsplit(".", 1)[0]):  # /db/table or /db/table.json
            units = datasette.table_metadata(self.database, candidate).get("units") or {}
            if units:
                break
        for key, values in args.items():
            if key.startswith("_") and "__" not in key:
                continue  # Datasette's own arguments (_sort, _size, ...), not filters
            column, lookup = key.rsplit("__", 1) if "__" in key else (key, "exact")
            if column not in units:
                continue
            if lookup in _VALUE_FREE_LOOKUPS:
                continue
            if lookup not in _UNIT_LOOKUPS:
                # Datasette turns the value into a number first: __in=1,2 fails (500), __contains=2 compares a number
                return (f"{key}: {column} has a unit ({units[column]}); filter it with "
                        f"{', '.join(f'__{k}' for k in _UNIT_LOOKUPS)} (a number, or a quantity such as '2 {units[column]}')")
            for value in values:
                if not _QUANTITY.fullmatch(value):
                    # pint reads '1,5' as 15: a decimal comma would silently filter on another number
                    return f"{key}: {value!r} is not a number or a number with a unit (e.g. 2 or '2 {units[column]}')"
                try:
                    quantity = ureg(value)
                    if not isinstance(quantity, int | float):
                        quantity.to(ureg(units[column]))
                except Exception:  # pint: UndefinedUnitError, DimensionalityError, tokenize errors, ...
                    return f"{key}: {value!r} is neither a number nor a quantity in {units[column]} (e.g. '2 {units[column]}')"
        return None


#: Datasette's filter lookups on a column with a unit that take a number (converted from the quantity given), and those
#: whose value is not used; every other lookup is refused on such a column (see ArgyrodbPlugin._unit_problem).
_UNIT_LOOKUPS = ("exact", "not", "gt", "gte", "lt", "lte")
_VALUE_FREE_LOOKUPS = ("isnull", "notnull", "isblank", "notblank")
#: A number, optionally followed by a unit: '2', '-1.5e-3', '0.002 S/cm', '2mS/cm'.
_QUANTITY = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?(\s*[A-Za-z\u00b0\u00c5\u03bc\u03a9][^,;]*)?\s*")


#: Arguments Datasette parses without checking them, and what it needs them to be (_through and _timelimit are
#: checked before Datasette sees them: argument_problem).
_PARSED_ARGUMENTS = {"_next": "an offset or a key from a 'next' link", "_through": "a JSON object",
                     "_timelimit": "an integer (milliseconds)"}


def argument_problem(args: dict[str, list[str]]) -> str | None:
    """Why Datasette's ``_timelimit`` (a positive integer of milliseconds) or ``_through`` (a JSON object with
    table, column and value) in ``args`` is unusable, or None: Datasette uses both unchecked (HTTP 500)."""
    for value in args.get("_timelimit", []):
        if value.strip() and (not value.strip().isdigit() or int(value) <= 0):
            return f"_timelimit: {value!r} is not a positive integer (milliseconds)"
    for value in args.get("_through", []):
        try:
            through = json.loads(value)
        except ValueError:
            through = None
        if not (isinstance(through, dict) and isinstance(through.get("table"), str) and isinstance(through.get("column"), str)
                and isinstance(through.get("value"), str | int | float)):
            return f'_through: {value!r} is not a JSON object {{"table": ..., "column": ..., "value": ...}}'
    return None


def _is_interrupted(exception) -> bool:
    from datasette.database import QueryInterrupted

    return isinstance(exception, QueryInterrupted)


def _bad_argument(request) -> str | None:
    """The first argument of :data:`_PARSED_ARGUMENTS` the request gives, as 'name=value (should be ...)', or None."""
    for name, wanted in _PARSED_ARGUMENTS.items():
        value = request.args.get(name)
        if value is not None:
            return f"{name}={value!r} (should be {wanted})"
    return None


def _is_not_found(exception) -> bool:
    from datasette.utils.asgi import NotFound

    return isinstance(exception, NotFound)


async def error_response(datasette, request, status: int, title: str, message: str):
    """An error answered as Datasette answers its own: JSON for a ``.json`` path, else its error page."""
    from datasette.utils.asgi import Response

    info = {"ok": False, "error": message, "status": status, "title": title}
    if request.path.endswith(".json"):
        return Response.json(info, status=status)
    # a request stopped by asgi_wrapper has not been through Datasette's CSRF middleware, which the page's forms use
    page_request = request if "csrftoken" in request.scope else None
    html = await datasette.render_template([f"{status}.html", "error.html"], info, request=page_request)
    return Response.html(html, status=status)
