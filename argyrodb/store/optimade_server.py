"""An OPTIMADE API (specification v1.2, https://www.optimade.org, Andersen et al., Sci. Data 8, 217 (2021),
doi:10.1038/s41597-021-00974-z) over the stored structures, served by ``argyrodb db serve`` under ``/optimade/v1``.

Endpoints: ``/optimade/versions`` (text/csv), and under the versioned base URL ``/optimade/v1``: ``/info``,
``/info/structures``, ``/structures`` (``filter``, ``response_fields``, ``sort``, ``page_limit``, ``page_offset``),
``/structures/<id>`` and ``/links`` (an empty list: no other OPTIMADE databases are linked). Every answer is a JSON:API
document; a request the server cannot answer is an OPTIMADE error document (400 bad filter or parameter, 404 no
such entry or endpoint, 501 a part of the filter language not implemented here, 553 an API version not served).

The entries are :func:`argyrodb.store.export.optimade_entries` - the very ones ``argyrodb db export --optimade``
writes, validated with optimade-python-tools' ``StructureResource``, with the site disorder as ``species`` with
``concentration`` (and ``vacancy``) - so the API and the exported file cannot disagree. The filter is parsed with
optimade-python-tools' grammar (``optimade.filterparser.LarkParser``) and evaluated in Python on that list rather
than translated to SQL: half the queryable properties (``chemical_formula_reduced`` and ``_anonymous``, ``nsites``,
``species_at_sites``, ``elements_ratios``) are computed in Python from the refined amounts and the site grouping and
stored in no column, so a SQL translation would need a second implementation of each; and the list is small (tens of
structures, built in about a second and then cached until the database file changes).

Logic of comparisons (as the specification's section "Filtering on properties with an unknown value" and the
reference implementation's MongoDB transformer): a comparison on an unknown (null) value, or on a property another
provider defines (``_otherprovider_x``), is false; ``NOT`` negates the result; ``IS UNKNOWN`` is true for them.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, quote, unquote, urlencode

from .. import __version__
from ..core.errors import InputError
from .export import OPTIMADE_PREFIX, optimade_entries

#: The specification version implemented (that of optimade-python-tools' models, which validate the entries).
API_VERSION = "1.2.0"
#: Where the API is served: ``/optimade/versions`` and the versioned base URL ``/optimade/v1``.
ROOT = "/optimade"
MAJOR = "v1"
PROVIDER = {"name": "argyrodb", "prefix": OPTIMADE_PREFIX.strip("_"),
            "description": "Lithium argyrodite solid electrolytes (Li6PS5X, F-43m): refined structures with their site "
                           "disorder, literature and measured conductivities",
            "homepage": None}
IMPLEMENTATION = {"name": "argyrodb", "version": __version__}
#: The JSON Schema of OPTIMADE responses (meta->schema), as optimade-python-tools' server reports it.
SCHEMA_URL = f"https://schemas.optimade.org/openapi/v{API_VERSION}/optimade.json"
JSON_API = "application/vnd.api+json"
#: Entries per page without page_limit, and the most a page may hold (an entry is ~10 kB of JSON: 52 sites).
PAGE_LIMIT_DEFAULT = 20
PAGE_LIMIT_MAX = 100
#: Query parameters of an entry listing and of a single entry (specification section 5.3.2, 5.4); any other is
#: refused (400) unless it carries another provider's prefix, so a typo is not a silently ignored filter.
LISTING_PARAMETERS = ("filter", "response_format", "email_address", "response_fields", "sort", "page_limit",
                      "page_offset", "page_number", "page_cursor", "page_above", "page_below", "include", "api_hint")
SINGLE_PARAMETERS = ("response_format", "email_address", "response_fields", "include", "api_hint")
#: Pagination the specification allows but this server does not offer (page_offset does all it needs).
UNSUPPORTED_PAGINATION = ("page_number", "page_cursor", "page_above", "page_below")

#: Our provider fields of the entries (export.optimade_entries): OPTIMADE type, unit, description.
PROVIDER_FIELDS: dict[str, tuple[str, str | None, str]] = {
    "nominal_formula": ("string", None, "The formula the structure was made or reported as (before refinement)."),
    "a_angstrom": ("float", "Å", "Cubic lattice parameter a of the F-43m cell."),
    "a_source": ("string", None, "Where a comes from: the refinement, a CIF, or the literature."),
    "density_g_cm3": ("float", "g/cm^3", "Crystallographic density of the refined cell."),
    "source_file": ("string", None, "The file the structure was read from (refinement YAML or CIF)."),
    "dataset": ("string", None, "The dataset the structure belongs to (argyrodb's own, OBELiX, a user import)."),
    "dataset_id": ("string", None, "The structure's identifier in its dataset (e.g. OBELiX's 3-letter ID)."),
    "caveat": ("string", None, "A known limitation of the structure (e.g. occupancies not refined); null if none."),
    "licence": ("string", None, "Licence of the structure's data."),
    "attribution": ("string", None, "Attribution the licence asks for."),
    "sigma_ms_cm": ("float", "mS/cm", "Ionic conductivity at room temperature measured on this material by the "
                                      "source's own work; null if none is stored."),
    "ccd_ma_cm2": ("float", "mA/cm^2", "Critical current density measured on this material by the source's own work; "
                                       "null if none is stored."),
}


class OptimadeError(Exception):
    """An answer that is an OPTIMADE error document: HTTP ``status``, ``title`` and a one-line ``detail``."""

    TITLES: ClassVar[dict[int, str]] = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 501: "Not Implemented",
              553: "Version Not Supported"}

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.title = self.TITLES.get(status, "Error")
        self.detail = detail


# --- the entries and their properties -----------------------------------------------------------------------

_CACHE_LOCK = threading.Lock()
_CACHE: dict[str, tuple[tuple, list[dict]]] = {}


def file_state(path: Path) -> tuple:
    """What changes when the database is written: size and modification time of the file and of its WAL (a commit
    in WAL mode changes only the ``-wal`` file until a checkpoint). Keys the caches of the entries here and of the
    site's charts (:mod:`argyrodb.store.site`)."""
    state: list[tuple[int, int] | None] = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st = p.stat()
            state.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            state.append(None)
    return tuple(state)


def entries(db_path: str | Path) -> list[dict]:
    """The OPTIMADE entries of every stored structure (``export.optimade_entries``), built once per state of the
    database file (about a second for the packaged build's 46 structures; the validator alone sends ~200 requests)."""
    path = Path(db_path)
    state = file_state(path)
    with _CACHE_LOCK:
        cached = _CACHE.get(str(path))
        if cached is not None and cached[0] == state:
            return cached[1]
        built = optimade_entries(path)  # NULLs are already null there (export._plain), as in the exported file
        _CACHE[str(path)] = (state, built)
        return built


@functools.cache
def _standard_schema() -> dict[str, dict]:
    """The specification's structure properties (name -> description, type, unit, support levels), from
    optimade-python-tools' models. Read once per process (0.2 s the first time, 7 ms each after: it walks the
    pydantic models), not on each of the three uses per request (definitions, filter, response_fields);
    callers only read it."""
    from optimade.server.schemas import ENTRY_INFO_SCHEMAS, retrieve_queryable_properties

    return retrieve_queryable_properties(ENTRY_INFO_SCHEMAS["structures"], ("id", "type", "attributes"))


def _kind(value) -> str:
    return getattr(value, "value", value)  # optimade's DataType enum or a plain string


def property_definitions(sample: list[dict]) -> dict[str, dict]:
    """``/info/structures``' properties: id, type and every attribute the entries carry (the specification's
    description, unit and type for standard ones, :data:`PROVIDER_FIELDS` for ours), each sortable."""
    standard = _standard_schema()
    carried: list[str] = ["id", "type"]
    for entry in sample:
        carried.extend(k for k in entry["attributes"] if k not in carried)
    out: dict[str, dict] = {}
    for name in carried:
        if name in standard:
            spec = standard[name]
            out[name] = {"description": spec["description"].split("\n")[0], "type": _kind(spec["type"]), "sortable": True}
            if spec.get("unit"):
                out[name]["unit"] = spec["unit"]
        elif name.startswith(OPTIMADE_PREFIX) and name[len(OPTIMADE_PREFIX):] in PROVIDER_FIELDS:
            kind, unit, text = PROVIDER_FIELDS[name[len(OPTIMADE_PREFIX):]]
            out[name] = {"description": text, "type": kind, "sortable": True}
            if unit:
                out[name]["unit"] = unit
        else:  # an attribute export.py added without a definition here: say so rather than serve it undescribed
            raise InputError("optimade", f"the entries carry {name!r}, which optimade_server.PROVIDER_FIELDS does not define")
    out["type"]["sortable"] = False
    return out


def _value(entry: dict, name: str):
    return entry.get(name) if name in ("id", "type") else entry["attributes"].get(name)


# --- the filter language ------------------------------------------------------------------------------------

_PARSER_LOCK = threading.Lock()
_PARSER = None


def _parse(text: str):
    """The lark tree of an OPTIMADE filter (optimade-python-tools' v1.2 grammar); OptimadeError 400 if it does not
    parse, with the position lark reports."""
    global _PARSER
    from optimade.filterparser import LarkParser

    with _PARSER_LOCK:  # lark's parser object is not documented as thread-safe; the server answers in threads
        if _PARSER is None:
            _PARSER = LarkParser(version=(1, 2, 0))
        try:
            return _PARSER.lark.parse(text)
        except Exception as exc:  # lark's UnexpectedInput family and its lexer errors
            message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
            raise OptimadeError(400, f"filter {text!r} does not parse: {message}") from None


_OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}  # type: ignore[operator]
#: The operator with its sides swapped: ``3 < nelements`` is ``nelements > 3``.
_SWAPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

Predicate = Callable[[dict], bool]


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OptimadeError(400, f"{text!r} is not a timestamp (RFC 3339, e.g. \"2026-11-25T00:00:00Z\")") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class FilterCompiler:
    """Turns a parsed filter into a predicate on entries. ``properties``: name -> definition (``type``) of the
    properties the entries carry; the other standard properties of the specification are known (always null here)."""

    def __init__(self, properties: dict[str, dict]):
        self.properties = properties
        self.standard = set(_standard_schema())

    # properties
    def _property(self, tree) -> tuple[str, str | None]:
        """(name, OPTIMADE type) of a property; type None for one that is always unknown here (a standard property
        these entries do not carry, or another provider's)."""
        names = [str(t) for t in tree.children]
        if len(names) > 1:
            raise OptimadeError(501, f"nested properties ({'.'.join(names)}) are not supported by this implementation")
        name = names[0]
        if name in self.properties:
            return name, self.properties[name]["type"]
        if name in self.standard:
            return name, None
        match = re.match(r"_([a-z0-9]+)_", name)
        if match and f"_{match.group(1)}_" != OPTIMADE_PREFIX:
            return name, None  # another provider's property: unknown here, per the specification not an error
        raise OptimadeError(400, f"{name!r} is not a known property of structures (see /optimade/v1/info/structures)")

    # values
    @staticmethod
    def _literal(tree):
        """A value's Python value: str, int or float; OptimadeError 501 for booleans and property-valued sides."""
        node = tree.children[0] if tree.data in ("value", "constant", "non_string_value", "not_implemented_string") else tree
        if node.data == "string":
            raw = str(node.children[0])[1:-1]
            return re.sub(r"\\(.)", r"\1", raw)  # the grammar's escapes: \" and \\
        if node.data in ("number", "signed_int"):
            token = node.children[0]
            return int(token) if token.type == "SIGNED_INT" else float(token)
        if node.data == "property":
            raise OptimadeError(501, "comparing a property with another property is not supported by this implementation")
        raise OptimadeError(501, "boolean values (TRUE, FALSE) are not supported: no property of structures here is a boolean")

    def _typed(self, name: str, kind: str | None, value, op: str):
        """``value`` checked against the property's type (and a timestamp parsed), so a type mismatch is a 400, not
        an empty answer."""
        if kind is None:
            return value
        if kind in ("integer", "float"):
            if isinstance(value, str):
                raise OptimadeError(400, f"{name} is a number ({kind}): compare it with a number, not {value!r}")
            return value
        if kind == "string":
            if not isinstance(value, str):
                raise OptimadeError(400, f"{name} is a string: compare it with a quoted string, not {value!r}")
            return value
        if kind == "timestamp":
            if not isinstance(value, str):
                raise OptimadeError(400, f"{name} is a timestamp: compare it with a quoted RFC 3339 time, not {value!r}")
            return _timestamp(value)
        raise OptimadeError(400, f"{name} is a {kind}: {op} compares single values (use HAS, HAS ALL, HAS ANY or LENGTH on lists)")

    def _compare(self, name: str, kind: str | None, op: str, value) -> Predicate:
        target = self._typed(name, kind, value, op)
        test = _OPERATORS[op]
        if kind is None:
            return lambda entry: False
        if kind == "timestamp":
            return lambda entry: (v := _value(entry, name)) is not None and test(_timestamp(v), target)
        return lambda entry: (v := _value(entry, name)) is not None and test(v, target)

    # the tree
    def compile(self, tree) -> Predicate:
        method = getattr(self, "_" + tree.data, None)
        if method is None:
            raise OptimadeError(501, f"the filter construct {tree.data!r} is not supported by this implementation")
        return method(tree)

    def _filter(self, tree) -> Predicate:
        return self.compile(tree.children[0]) if tree.children else (lambda entry: True)

    def _expression(self, tree) -> Predicate:
        parts = [self.compile(c) for c in tree.children]
        return parts[0] if len(parts) == 1 else (lambda entry: any(p(entry) for p in parts))

    def _expression_clause(self, tree) -> Predicate:
        parts = [self.compile(c) for c in tree.children]
        return parts[0] if len(parts) == 1 else (lambda entry: all(p(entry) for p in parts))

    def _expression_phrase(self, tree) -> Predicate:
        inner = self.compile(tree.children[-1])
        negated = len(tree.children) == 2  # [NOT] (comparison | expression)
        return (lambda entry: not inner(entry)) if negated else inner

    def _comparison(self, tree) -> Predicate:
        return self.compile(tree.children[0])

    def _constant_first_comparison(self, tree) -> Predicate:
        constant, op, other = tree.children
        if other.data == "not_implemented_string":
            raise OptimadeError(501, "comparing two constants is not supported by this implementation")
        target = other.children[0]
        if target.data != "property":
            raise OptimadeError(501, "comparing two constants is not supported by this implementation")
        name, kind = self._property(target)
        return self._compare(name, kind, _SWAPPED[str(op)], self._literal(constant))

    def _property_first_comparison(self, tree) -> Predicate:
        prop, rhs = tree.children
        name, kind = self._property(prop)
        tokens = [c for c in rhs.children if not hasattr(c, "data")]
        trees = [c for c in rhs.children if hasattr(c, "data")]
        if rhs.data == "value_op_rhs":
            return self._compare(name, kind, str(tokens[0]), self._literal(trees[0]))
        if rhs.data == "known_op_rhs":
            known = str(tokens[1]) == "KNOWN"
            return lambda entry: (kind is not None and _value(entry, name) is not None) == known
        if rhs.data == "fuzzy_string_op_rhs":
            return self._fuzzy(name, kind, str(tokens[0]), self._literal(trees[0]))
        if rhs.data == "set_op_rhs":
            return self._has(name, kind, [str(t) for t in tokens[1:]], trees[0])
        if rhs.data == "length_op_rhs":
            op = str(tokens[1]) if len(tokens) > 1 else "="
            return self._length(name, kind, op, self._literal(trees[0]))
        raise OptimadeError(501, 'zipped lists (e.g. elements:elements_ratios HAS "Li":>0.4) are not supported by this '
                                 "implementation")

    def _fuzzy(self, name: str, kind: str | None, op: str, value) -> Predicate:
        if kind not in (None, "string"):
            raise OptimadeError(400, f"{name} is a {kind}: {op} applies to strings")
        if not isinstance(value, str):
            raise OptimadeError(400, f"{op} takes a quoted string, not {value!r}")
        test = {"CONTAINS": lambda v: value in v, "STARTS": lambda v: v.startswith(value),
                "ENDS": lambda v: v.endswith(value)}[op]
        if kind is None:
            return lambda entry: False
        return lambda entry: (v := _value(entry, name)) is not None and test(v)

    def _items(self, name: str, kind: str | None, what: str):
        if kind not in (None, "list"):
            raise OptimadeError(400, f"{name} is a {kind}: {what} applies to lists")
        if name == "species":  # a list of dictionaries: HAS compares single values
            raise OptimadeError(501, f"{what} on species (a list of dictionaries) is not supported; filter on elements")

    def _has(self, name: str, kind: str | None, words: list[str], node) -> Predicate:
        """HAS [op] value, HAS ALL / ANY / ONLY value_list (each value with an optional operator)."""
        mode = words[0] if words and words[0] in ("ALL", "ANY", "ONLY") else "ONE"
        self._items(name, kind, f"HAS{'' if mode == 'ONE' else ' ' + mode}")
        if mode == "ONE":
            op = words[0] if words else "="
            tests = [(op, self._literal(node))]
        else:
            tests, op = [], "="
            for child in node.children:
                if hasattr(child, "data"):
                    tests.append((op, self._literal(child)))
                    op = "="
                else:
                    op = str(child)
        if kind is None:
            return lambda entry: False

        def matches(item, test) -> bool:
            op, value = test
            if isinstance(item, (dict, list)) or isinstance(item, str) != isinstance(value, str):
                return False
            return _OPERATORS[op](item, value)

        def predicate(entry) -> bool:
            items = _value(entry, name)
            if items is None:
                return False
            if mode in ("ONE", "ALL"):
                return all(any(matches(i, t) for i in items) for t in tests)
            if mode == "ANY":
                return any(matches(i, t) for i in items for t in tests)
            return all(any(matches(i, t) for t in tests) for i in items)  # ONLY: every item is one of the values

        return predicate

    def _length(self, name: str, kind: str | None, op: str, value) -> Predicate:
        if kind not in (None, "list"):
            raise OptimadeError(400, f"{name} is a {kind}: LENGTH applies to lists")
        if not isinstance(value, int):
            raise OptimadeError(400, f"LENGTH takes an integer, not {value!r}")
        test = _OPERATORS[op]
        if kind is None:
            return lambda entry: False
        return lambda entry: (v := _value(entry, name)) is not None and test(len(v), value)


def compile_filter(text: str, properties: dict[str, dict]) -> Predicate:
    """A predicate on entries for the OPTIMADE filter ``text`` (empty: every entry). OptimadeError 400 for a filter
    that does not parse, names an unknown property or compares values of the wrong type; 501 for the parts of the
    language not implemented here (nested properties, property-to-property and constant-to-constant comparisons,
    booleans, zipped lists, HAS on species)."""
    if not text.strip():
        return lambda entry: True
    if len(text) > MAX_FILTER_CHARS:
        raise OptimadeError(400, f"a filter of {len(text)} characters: at most {MAX_FILTER_CHARS} are taken")
    depth = _nesting(text)
    if depth > MAX_FILTER_NESTING:
        raise OptimadeError(400, f"a filter nested {depth} deep (parentheses and NOTs): at most {MAX_FILTER_NESTING}")
    try:
        return FilterCompiler(properties).compile(_parse(text))
    except RecursionError:
        raise OptimadeError(400, "the filter is nested too deeply to evaluate") from None


#: The longest filter taken (characters): lark's Earley parser took 7 s on a 75 kB filter of 5,000 ORs.
MAX_FILTER_CHARS = 4000
#: The deepest nesting of parentheses plus NOTs taken: 2,000 nested parentheses overflowed Python's recursion
#: limit in the compiler (an HTTP 500 after 5 s).
MAX_FILTER_NESTING = 64


def _nesting(text: str) -> int:
    """The deepest parenthesis nesting of ``text`` plus its NOT keywords, outside quoted strings."""
    depth = deepest = nots = 0
    quoted = False
    previous = ""
    for i, char in enumerate(text):
        if char == '"' and previous != "\\":
            quoted = not quoted
        elif not quoted:
            if char == "(":
                depth += 1
                deepest = max(deepest, depth)
            elif char == ")":
                depth -= 1
            elif text.startswith("NOT", i) and (i == 0 or not text[i - 1].isalnum()) and not text[i + 3:i + 4].isalnum():
                nots += 1
        previous = char
    return deepest + nots


def select(all_entries: list[dict], text: str) -> list[dict]:
    """The entries the filter ``text`` keeps, in their order."""
    predicate = compile_filter(text, property_definitions(all_entries))
    return [e for e in all_entries if predicate(e)]


# --- responses ----------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(representation: str, returned: int, available: int, more: bool, warnings: list[str] | None = None) -> dict:
    meta = {"query": {"representation": representation}, "api_version": API_VERSION, "more_data_available": more,
            "schema": SCHEMA_URL, "time_stamp": _now(), "data_returned": returned, "data_available": available,
            "provider": PROVIDER, "implementation": IMPLEMENTATION}
    if warnings:
        meta["warnings"] = [{"type": "warning", "detail": w} for w in warnings]
    return meta


def error_document(error: OptimadeError, representation: str) -> dict:
    return {"errors": [{"status": str(error.status), "title": error.title, "detail": error.detail}],
            "meta": _meta(representation, 0, 0, False)}


def _arguments(query_string: str, allowed: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """(parameter -> value, warnings) of a request; OptimadeError 400 for a repeated or unknown parameter, a warning
    for another provider's (``_otherprovider_...``), which the specification says to ignore."""
    args: dict[str, str] = {}
    warnings = []
    for name, values in parse_qs(query_string, keep_blank_values=True).items():
        if len(values) > 1:
            raise OptimadeError(400, f"{name} is given {len(values)} times")
        if name in allowed:
            args[name] = values[0]
        elif re.match(r"_[a-z0-9]+_", name) and not name.startswith(OPTIMADE_PREFIX):
            warnings.append(f"query parameter {name} of another provider was ignored")
        else:
            raise OptimadeError(400, f"unknown query parameter {name!r} (this endpoint takes {', '.join(allowed)})")
    if args.get("response_format", "json") != "json":
        raise OptimadeError(400, f"response_format {args['response_format']!r} is not served (only json)")
    if args.get("include", "references") not in ("", "references"):
        raise OptimadeError(400, f"include={args['include']!r}: structures here have no relationships to include")
    return args, warnings


def _response_fields(text: str | None, properties: dict[str, dict]) -> list[str] | None:
    """The attributes asked for (None: all); standard properties not carried here are answered as null; another
    provider's are left out; any other name is a 400."""
    if text is None:
        return None
    standard = set(_standard_schema())
    fields = []
    for name in (f.strip() for f in text.split(",")):
        if not name or name in ("id", "type"):
            continue
        if name in properties or name in standard:
            fields.append(name)
        elif re.match(r"_[a-z0-9]+_", name) and not name.startswith(OPTIMADE_PREFIX):
            continue
        else:
            raise OptimadeError(400, f"response_fields: {name!r} is not a property of structures")
    return fields


def _shaped(entry: dict, fields: list[str] | None) -> dict:
    if fields is None:
        return entry
    return {"id": entry["id"], "type": entry["type"], "attributes": {f: entry["attributes"].get(f) for f in fields}}


def _integer(name: str, text: str, low: int, high: int | None) -> int:
    if not re.fullmatch(r"\s*\d+\s*", text):
        raise OptimadeError(400, f"{name}={text!r} is not a non-negative integer")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise OptimadeError(400, f"{name}={value} is out of range ({low} to {high})" if high is not None
                            else f"{name}={value} is below {low}")
    return value


def _sorted(items: list[dict], text: str, properties: dict[str, dict]) -> list[dict]:
    """``sort=prop,-prop2`` (a minus: descending); unknown values (null) last either way."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    for key in reversed(keys):
        name = key.lstrip("-")
        if name not in properties:
            raise OptimadeError(400, f"sort: {name!r} is not a property of structures")
        if properties[name]["type"] in ("list", "dictionary") or not properties[name].get("sortable"):
            raise OptimadeError(400, f"sort: {name} is a {properties[name]['type']}, which does not sort")
        known = [e for e in items if _value(e, name) is not None]
        unknown = [e for e in items if _value(e, name) is None]
        known.sort(key=lambda e: _value(e, name), reverse=key.startswith("-"))
        items = known + unknown
    return items


def structures(db_path: str | Path, base_url: str, query_string: str) -> dict:
    """The entry listing ``/structures``: filtered, sorted, one page of them; links to the next and previous page."""
    args, warnings = _arguments(query_string, LISTING_PARAMETERS)
    for name in UNSUPPORTED_PAGINATION:
        if name in args:
            raise OptimadeError(501, f"{name} is not supported by this implementation: use page_offset and page_limit")
    all_entries = entries(db_path)
    properties = property_definitions(all_entries)
    fields = _response_fields(args.get("response_fields"), properties)
    limit = _integer("page_limit", args["page_limit"], 1, PAGE_LIMIT_MAX) if "page_limit" in args else PAGE_LIMIT_DEFAULT
    offset = _integer("page_offset", args["page_offset"], 0, None) if "page_offset" in args else 0
    predicate = compile_filter(args.get("filter", ""), properties)
    found = [e for e in all_entries if predicate(e)]
    if args.get("sort", "").strip():
        found = _sorted(found, args["sort"], properties)
    page = found[offset:offset + limit]
    more = offset + limit < len(found)

    def link(new_offset: int) -> str:
        kept = {k: v for k, v in args.items() if k != "page_offset"}
        kept["page_offset"] = str(new_offset)
        kept.setdefault("page_limit", str(limit))
        return f"{base_url}/structures?{urlencode(kept)}"

    links = {"next": link(offset + limit) if more else None,
             "prev": link(max(offset - limit, 0)) if offset > 0 else None}
    return {"data": [_shaped(e, fields) for e in page], "links": links,
            "meta": _meta(f"/structures{'?' + query_string if query_string else ''}", len(found), len(all_entries), more, warnings)}


def structure(db_path: str | Path, entry_id: str, query_string: str) -> dict:
    """One entry ``/structures/<id>``; OptimadeError 404 when no entry has that ID."""
    args, warnings = _arguments(query_string, SINGLE_PARAMETERS)
    all_entries = entries(db_path)
    properties = property_definitions(all_entries)
    fields = _response_fields(args.get("response_fields"), properties)
    match = next((e for e in all_entries if e["id"] == entry_id), None)
    if match is None:
        raise OptimadeError(404, f"no structure with ID {entry_id!r} (the IDs are listed at /optimade/v1/structures)")
    return {"data": _shaped(match, fields), "links": {},
            "meta": _meta(f"/structures/{quote(entry_id)}{'?' + query_string if query_string else ''}", 1, len(all_entries),
                          False, warnings)}


def info(base_url: str) -> dict:
    return {"data": {"type": "info", "id": "/", "attributes": {
        "api_version": API_VERSION, "available_api_versions": [{"url": base_url, "version": API_VERSION}],
        "formats": ["json"], "available_endpoints": ["info", "links", "structures"],
        "entry_types_by_format": {"json": ["structures"]}, "is_index": False}},
        "meta": _meta("/info", 1, 1, False)}


def info_structures(db_path: str | Path) -> dict:
    properties = property_definitions(entries(db_path))
    description = ("Refined lithium argyrodite structures (F-43m) with their site disorder: each position's species "
                   "with its concentration (and vacancy).")
    return {"data": {"id": "structures", "type": "info", "description": description,
                     "properties": properties, "formats": ["json"],
                     "output_fields_by_format": {"json": list(properties)}},
            "meta": _meta("/info/structures", 1, 1, False)}


def links() -> dict:
    return {"data": [], "meta": _meta("/links", 0, 0, False)}


def versions() -> str:
    """``/optimade/versions``: the major versions served, newest first (specification section 5.1)."""
    return "version\n1\n"


def answer(db_path: str | Path, path: str, query_string: str, origin: str) -> tuple[int, str, str]:
    """(HTTP status, content type, body) for a request of ``path`` (under :data:`ROOT`, URL-encoded as sent) on the
    server ``origin`` ('http://host:port'). Every failure is an OPTIMADE error document."""
    rest = path[len(ROOT):]
    base_url = f"{origin}{ROOT}/{MAJOR}"
    representation = rest + (f"?{query_string}" if query_string else "")
    try:
        if rest == "/versions":
            return 200, "text/csv; header=present", versions()
        match = re.fullmatch(r"/(v[^/]*)(/.*)?", rest)
        if match is None:
            raise OptimadeError(404, f"{ROOT}{rest} is not an endpoint: the API is at {ROOT}/{MAJOR} "
                                     f"(e.g. {ROOT}/{MAJOR}/structures?filter=elements HAS \"I\")")
        version, endpoint = match.group(1), (match.group(2) or "/").rstrip("/") or "/"
        if version != MAJOR:
            if re.fullmatch(r"v\d+.*", version):
                raise OptimadeError(553, f"API version {version} is not served: use {base_url} ({API_VERSION})")
            raise OptimadeError(404, f"{ROOT}/{version} is not an endpoint: the API is at {ROOT}/{MAJOR}")
        representation = endpoint + (f"?{query_string}" if query_string else "")
        if endpoint == "/structures":
            body = structures(db_path, base_url, query_string)
        elif endpoint.startswith("/structures/"):
            body = structure(db_path, unquote(endpoint[len("/structures/"):]), query_string)
        elif endpoint in ("/info", "/info/structures", "/links", "/"):
            _arguments(query_string, LISTING_PARAMETERS if endpoint == "/links" else ("response_format", "email_address", "api_hint"))
            body = (info(base_url) if endpoint in ("/info", "/") else info_structures(db_path) if endpoint == "/info/structures"
                    else links())
        else:
            raise OptimadeError(404, f"{ROOT}/{MAJOR}{endpoint} is not an endpoint (info, info/structures, structures, "
                                     "structures/<id>, links)")
        return 200, JSON_API, json.dumps(body, allow_nan=False)
    except OptimadeError as error:
        return error.status, JSON_API, json.dumps(error_document(error, representation))

