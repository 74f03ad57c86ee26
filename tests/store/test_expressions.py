"""Query expressions: the compiled SQL and parameters term by term, every error with its position, and
real SQLite agreeing row for row with the same filter written in Python."""

from __future__ import annotations

import json
import sqlite3

import pytest

from argyrodb.core.errors import ParameterError
from argyrodb.store.expressions import Field, compile_expression, json_amount_field

FIELDS = {
    "sigma_mS_cm": Field("sigma_mS_cm", "number"),
    "anode": Field("anode", "text"),
    "own_work": Field("own_work", "bool"),
}
ELEMENTS = json_amount_field("amounts_json")
I_SQL = "COALESCE(json_extract(amounts_json, '$.I'), 0)"


def compiled(text, element_field=ELEMENTS):
    return compile_expression(text, FIELDS, element_field)


def error(text, element_field=ELEMENTS) -> str:
    with pytest.raises(ParameterError) as info:
        compiled(text, element_field)
    assert info.value.parameter == "expression"
    message = str(info.value)
    assert "\n" not in message and message.startswith(f'expression: "{text}": ')
    return message


# -- compile output ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_expression_is_no_condition(text):
    assert compiled(text) == ("", [])


@pytest.mark.parametrize("text, sql, params", [
    ("sigma_mS_cm>=5", "(sigma_mS_cm >= ?)", [5.0]),
    (" sigma_mS_cm  >=  5 ", "(sigma_mS_cm >= ?)", [5.0]),
    ("sigma_mS_cm=1e-3", "(sigma_mS_cm = ?)", [0.001]),
    ("sigma_mS_cm==2", "(sigma_mS_cm = ?)", [2.0]),
    ("sigma_mS_cm!=2", "(sigma_mS_cm != ?)", [2.0]),
    ("sigma_mS_cm>-0.5", "(sigma_mS_cm > ?)", [-0.5]),
    ("sigma_mS_cm<+.5E2", "(sigma_mS_cm < ?)", [50.0]),
    ("5<sigma_mS_cm", "(sigma_mS_cm > ?)", [5.0]),
    ("5>=sigma_mS_cm", "(sigma_mS_cm <= ?)", [5.0]),
    ("5=sigma_mS_cm", "(sigma_mS_cm = ?)", [5.0]),
    ("2<sigma_mS_cm<10", "(sigma_mS_cm > ?) AND (sigma_mS_cm < ?)", [2.0, 10.0]),
    ("10>=sigma_mS_cm>2", "(sigma_mS_cm <= ?) AND (sigma_mS_cm > ?)", [10.0, 2.0]),
    ("I>0", f"({I_SQL} > ?)", [0.0]),
    ("0.2<=I<=1.4", f"({I_SQL} >= ?) AND ({I_SQL} <= ?)", [0.2, 1.4]),
    ("anode=Li-In", "(anode = ? COLLATE NOCASE)", ["Li-In"]),
    ("anode!='Li In'", "(anode != ? COLLATE NOCASE)", ["Li In"]),
    ('anode="a,b=c"', "(anode = ? COLLATE NOCASE)", ["a,b=c"]),
    ("anode=Li+/x_1.5", "(anode = ? COLLATE NOCASE)", ["Li+/x_1.5"]),
    ("Li-In=anode", "(anode = ? COLLATE NOCASE)", ["Li-In"]),
    ("anode=In", "(anode = ? COLLATE NOCASE)", ["In"]),  # a field name wins over an element value
    ("own_work=yes", "(own_work = ?)", [1]),
    ("own_work=False", "(own_work = ?)", [0]),
    ("own_work!=1", "(own_work != ?)", [1]),
    ("sigma_mS_cm", "(sigma_mS_cm IS NOT NULL)", []),
    ("!sigma_mS_cm", "(sigma_mS_cm IS NULL)", []),
    ("own_work", "(own_work = 1)", []),
    ("not own_work", "(own_work IS NOT 1)", []),
    ("anode", "(anode IS NOT NULL AND anode != '')", []),
    ("!anode", "(anode IS NULL OR anode = '')", []),
    ("I", f"({I_SQL} > 0)", []),
    ("! I", f"(COALESCE({I_SQL}, 0) <= 0)", []),
])
def test_single_terms(text, sql, params):
    assert compiled(text) == (sql, params)


def test_terms_join_with_and_in_order():
    sql, params = compiled("I>0, sigma_mS_cm>=5 ,anode=Li-In,own_work")
    assert sql == f"({I_SQL} > ?) AND (sigma_mS_cm >= ?) AND (anode = ? COLLATE NOCASE) AND (own_work = 1)"
    assert params == [0.0, 5.0, "Li-In"]


def test_injection_attempt_is_a_parameter():
    sql, params = compiled("anode=\"x' OR '1'='1\"")
    assert sql == "(anode = ? COLLATE NOCASE)" and params == ["x' OR '1'='1"]


def test_fields_win_over_elements_and_names_are_case_sensitive():
    fields = {"I": Field("iodine_column", "number")}
    assert compile_expression("I>1", fields, ELEMENTS) == ("(iodine_column > ?)", [1.0])
    with pytest.raises(ParameterError, match="unknown name 'SIGMA_MS_CM'"):
        compiled("SIGMA_MS_CM>1")


def test_elements_only_with_element_field():
    assert "unknown name 'I'" in error("I>0", element_field=None)
    assert "element symbol" not in error("I>0", element_field=None)


def test_custom_element_field():
    sql, params = compiled("Cl>=0.5", element_field=lambda el: Field(f"amount_{el}", "number"))
    assert (sql, params) == ("(amount_Cl >= ?)", [0.5])


def test_field_kind_is_checked():
    with pytest.raises(ParameterError):
        Field("x", "float")


def test_json_amount_field_refuses_non_elements():
    with pytest.raises(ParameterError):
        ELEMENTS("X') OR 1 --")


# -- errors -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("I>>0", "unexpected '>' at position 3: '>>' is not an operator"),
    ("sigma_mS_cm=>5", "unexpected '>' at position 13: '=>' is not an operator"),
    ("I<>0", "'<>' is not an operator (use =, ==, !=, <, <=, >, >=)"),
    ("I=!0", "'=!' is not an operator"),
    ("I~0", "unexpected character '~' at position 2"),
    ("I!0", "unexpected '!' at position 2, expected an operator"),
    ("I 0", "unexpected '0' at position 3, expected an operator"),
    ("I>0,,x", "empty term before the ',' at position 5"),
    (",I>0", "empty term before the ',' at position 1"),
    ("I>0, ", "empty term after the ',' at position 4"),
    ("sigma_mS_cm>=", "missing value after '>=' at position 14"),
    ("2<I<", "missing value after '<' at position 5"),
    (">=5", "missing name or value before '>=' at position 1"),
    ("!", "missing name after '!' at position 2"),
    ("!I>0", "'!' negates a bare name only; unexpected '>' at position 3"),
    ("sigm>5", ("unknown name 'sigm' at position 1 (a column name or an element symbol such as Li, Cl, I);"
                " did you mean sigma_mS_cm?")),
    ("I>0,li>5", "unknown name 'li' at position 5"),
    ("li>5", "did you mean Li?"),
    ("Xx>1", "known names: anode, own_work, sigma_mS_cm"),
    ("anode='x'' OR 1=1 --'", "unexpected ' OR 1=1 --' at position 10, expected an operator"),
    ("5<sigm", "unknown name 'sigm' at position 3"),
    ("5<6", "no field or element name in the term at position 1"),
    ("'I'>0", "(names are never quoted)"),
    ("anode>Li", "anode is text and allows only = and !=, not '>' at position 6"),
    ("5<anode", "not '<' at position 2"),
    ("own_work>=1", "own_work is yes/no and allows only = and !="),
    ("own_work=maybe", "takes true/false/yes/no/1/0, not 'maybe' at position 10"),
    ("sigma_mS_cm=abc", "sigma_mS_cm takes numbers and 'abc' at position 13 is not a number"),
    ("sigma_mS_cm='1 2'", "is not a number"),
    ("Li>=six", "Li takes numbers and 'six' at position 5 is not a number"),
    ("sigma_mS_cm>nan", "is not a finite number"),
    ("sigma_mS_cm<-inf", "is not a finite number"),
    ("sigma_mS_cm<1e999", "'1e999' at position 13 is not a finite number"),
    ("sigma_mS_cm=1_000", "is not a number"),
    ("anode='Li-In", "unbalanced quote: the ' at position 7 is never closed"),
    ('anode="Li-In\'', 'unbalanced quote: the " at position 7 is never closed'),
    ("2<sigma_mS_cm>10", "a range needs two of '<', '<=' or two of '>', '>=', not '<' then '>' at position 14"),
    ("10>=I<2", "not '>=' then '<'"),
    ("2=I=3", "not '=' then '='"),
    ("2<I!=3", "not '<' then '!='"),
    ("1<I<2<3", "a range has at most two comparisons; unexpected '<' at position 6"),
    ("2<anode<10", "anode is text"),
])
def test_errors_quote_the_expression_and_point_at_the_problem(text, expected):
    assert expected in error(text)


# -- real SQLite -----------------------------------------------------------------------------------------

ROWS = [  # sigma_mS_cm, anode, own_work, amounts
    (5.2, "Li-In", 1, {"Li": 5.6, "P": 1, "S": 4.6, "Cl": 0.8, "I": 0.6}),
    (2.0, "li-in", 0, {"Li": 6, "P": 1, "S": 5, "Cl": 1}),
    (11.0, "Li", None, {"Li": 5.5, "P": 1, "S": 4.5, "Cl": 1.5}),
    (None, "LI-IN", 1, {"Li": 6, "P": 1, "S": 5, "Br": 1}),
    (0.004, None, 0, {"Li": 6, "P": 1, "S": 5, "I": 1}),
    (7.5, "", 1, {"Li": 5.4, "P": 1, "S": 4.4, "Cl": 1.2, "I": 0.4}),
    (10.0, "In", None, {"Li": 5.3, "P": 1, "S": 4.3, "Cl": 0.3, "Br": 1.4}),
    (3.3, "Li-In", 1, {"Li": 6.2, "P": 1, "S": 5.2, "Cl": 0.0, "I": 1.4}),
]


def _amount(row, element):
    return row[3].get(element, 0)


def _known(value):
    return value is not None


PYTHON = {
    "sigma_mS_cm>=5": lambda r: _known(r[0]) and r[0] >= 5,
    "5<sigma_mS_cm": lambda r: _known(r[0]) and r[0] > 5,
    "2<sigma_mS_cm<10": lambda r: _known(r[0]) and 2 < r[0] < 10,
    "10 >= sigma_mS_cm >= 2": lambda r: _known(r[0]) and 2 <= r[0] <= 10,
    "sigma_mS_cm<1e-2": lambda r: _known(r[0]) and r[0] < 0.01,
    "sigma_mS_cm!=2": lambda r: _known(r[0]) and r[0] != 2,
    "sigma_mS_cm": lambda r: _known(r[0]),
    "!sigma_mS_cm": lambda r: not _known(r[0]),
    "I>0": lambda r: _amount(r, "I") > 0,
    "I": lambda r: _amount(r, "I") > 0,
    "not I": lambda r: _amount(r, "I") <= 0,
    "0.2<=I<=1.4": lambda r: 0.2 <= _amount(r, "I") <= 1.4,
    "Li>=6": lambda r: _amount(r, "Li") >= 6,
    "Cl=0": lambda r: _amount(r, "Cl") == 0,
    "Br=0,I=0": lambda r: _amount(r, "Br") == 0 and _amount(r, "I") == 0,
    "Br>0,Cl>0": lambda r: _amount(r, "Br") > 0 and _amount(r, "Cl") > 0,
    "Cl>I": None,  # refused: two names
    "anode=li-in": lambda r: r[1] is not None and r[1].lower() == "li-in",
    "anode='LI'": lambda r: r[1] is not None and r[1].lower() == "li",
    "anode!=Li-In": lambda r: r[1] is not None and r[1].lower() != "li-in",
    "anode": lambda r: bool(r[1]),
    "!anode": lambda r: not r[1],
    "own_work": lambda r: r[2] == 1,
    "!own_work": lambda r: r[2] != 1,
    "own_work=no": lambda r: r[2] == 0,
    "own_work=true,I>0,sigma_mS_cm>4": lambda r: r[2] == 1 and _amount(r, "I") > 0 and _known(r[0]) and r[0] > 4,
    "Li-In=anode,3<=sigma_mS_cm<=6,Cl<1": lambda r: (r[1] or "").lower() == "li-in" and _known(r[0])
                                                   and 3 <= r[0] <= 6 and _amount(r, "Cl") < 1,
}


@pytest.fixture(scope="module")
def database():
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, sigma_mS_cm REAL, anode TEXT, own_work INTEGER,"
                       " amounts_json TEXT NOT NULL)")
    connection.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)",
                           [(i, s, a, o, json.dumps(am)) for i, (s, a, o, am) in enumerate(ROWS)])
    yield connection
    connection.close()


def select(database, text):
    sql, params = compiled(text)
    where = f" WHERE {sql}" if sql else ""
    return [i for (i,) in database.execute(f"SELECT id FROM m{where} ORDER BY id", params)]


@pytest.mark.parametrize("text", [t for t, f in PYTHON.items() if f is not None])
def test_sqlite_returns_exactly_the_python_filter(database, text):
    expected = [i for i, row in enumerate(ROWS) if PYTHON[text](row)]
    assert select(database, text) == expected


def test_every_sqlite_case_is_selective(database):
    """Each expression keeps some rows and drops others, so agreement with Python means something."""
    for text, keep in PYTHON.items():
        if keep is not None:
            assert 0 < len(select(database, text)) < len(ROWS), text


def test_empty_expression_selects_everything(database):
    assert select(database, "") == list(range(len(ROWS)))


def test_two_names_in_one_comparison_are_refused():
    assert "Cl takes numbers and 'I' at position 4 is not a number" in error("Cl>I")
