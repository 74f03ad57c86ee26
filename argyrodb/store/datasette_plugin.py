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

import math
import sqlite3
import weakref
from urllib.parse import parse_qs

from datasette import hookimpl

from .connection import MAX_VALUE_BYTES

#: SQLite's heap in the serving process (all connections): a few of the largest values plus page caches.
SQLITE_HEAP_LIMIT_BYTES = 4 * MAX_VALUE_BYTES
#: Bytes of text and blob values one statement may return to Datasette (each other value counts 8). A response
#: costs several times its values (blobs go out as base64 inside JSON): measured, the server peaks at 200 MB
#: resident for one statement at this budget and 540 MB for eight at once (at 50 MB: 440 MB and 1 GB). The
#: database's largest values (CIF texts) are a few kB.
WEB_QUERY_MAX_BYTES = 20_000_000
#: Datasette's messages for a bad ``_sort``/``_sort_desc`` of a table page, which it answers with status 500.
_SORT_MESSAGES = ("Cannot sort table by ", "Cannot use _sort and _sort_desc at the same time")


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

    def __init__(self, database: str, writable: bool, parameter_types: dict[str, dict[str, str]]):
        self.__name__ = __name__  # Datasette lists plugins (/-/plugins) by their module's name
        self.database = database
        self.writable = writable
        self.parameter_types = parameter_types

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
        elif isinstance(exception, sqlite3.DataError):  # "string or blob too big" (SQLITE_LIMIT_LENGTH)
            answer = ("Query too large", f"{exception} (the server's limit is {MAX_VALUE_BYTES // 1_000_000} MB per value)")
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
                problem = self._canned_query_problem(datasette, scope) if scope["type"] == "http" else None
                if problem is None:
                    return await app(scope, receive, send)
                from datasette.utils.asgi import Request

                response = await error_response(datasette, Request(scope, receive), 400, "Invalid parameter", problem)
                await response.asgi_send(send)

            return checked

        return wrap

    def _canned_query_problem(self, datasette, scope) -> str | None:
        path = scope.get("path", "")
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
