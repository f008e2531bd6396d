"""Path, query, header and cookie parameters: types, lists, aliases, constraints, models.

Every request of ``REQUESTS`` is answered byte for byte as FastAPI 0.165 answers it
(``EXPECTED`` was recorded from it: see tests/framework/recorded.py).  The tests
after the table check what the endpoint actually received (Python types, defaults).
"""

# Optional[...] and Union[...] on purpose: FastAPI apps are written that way.
# ruff: noqa: UP007, UP045

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, Json

from aster import Cookie, Depends, FastAPI, Header, Path, Query
from aster.testclient import TestClient

from .recorded import Expected, Request, check, ids

app = FastAPI()
SEEN: dict[str, Any] = {}


class Color(str, enum.Enum):
    red = "red"
    green = "green"


class Level(enum.IntEnum):
    one = 1
    two = 2


@app.get("/types/{i}/{f}/{s}/{b}")
def path_types(i: int, f: float, s: str, b: bool):
    return {"i": i, "f": f, "s": s, "b": b}


@app.get("/query")
def query(
    a: int,
    b: float = 1.5,
    c: Optional[str] = None,
    d: bool = False,
    e: Union[int, None] = None,
):
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


@app.get("/bool")
def boolean(b: bool):
    return {"b": b}


@app.get("/lists")
def lists(
    x: list[int] = Query([]),
    y: Annotated[Optional[list[str]], Query()] = None,
    z: Annotated[set[int], Query()] = set(),  # noqa: B006 (the FastAPI idiom)
):
    return {"x": x, "y": y, "z": sorted(z)}


@app.get("/list-required")
def list_required(x: Annotated[list[int], Query(min_length=2)]):
    return {"x": x}


@app.get("/list-optional")
def list_optional(
    x: Annotated[Optional[list[str]], Query()] = None,
    y: Annotated[Union[list[int], None], Query(max_length=2)] = None,
):
    return {"x": x, "y": y}


@app.get("/list-factory")
def list_factory(x: Annotated[list[int], Query(default_factory=lambda: [1, 2])]):
    return {"x": x}


@app.get("/alias")
def alias(
    item_query: Annotated[str, Query(alias="item-query")] = "default",
    v: Annotated[int, Query(validation_alias="vv")] = 0,
):
    return {"item_query": item_query, "v": v}


@app.get("/alias-choices")
def alias_choices(v: Annotated[int, Query(validation_alias=AliasChoices("v1", "v2"))]):
    return {"v": v}


@app.get("/path-alias/{item-id}")
def path_alias(item_id: Annotated[int, Path(alias="item-id")]):
    return {"item_id": item_id}


@app.get("/numbers/{n}")
def numbers(
    n: Annotated[int, Path(gt=0, le=10)],
    q: Annotated[float, Query(ge=1.5, lt=3)] = 2,
    m: Annotated[int, Query(multiple_of=3)] = 3,
):
    return {"n": n, "q": q, "m": m}


@app.get("/numbers-old-style/{n}")
def numbers_old_style(n: int = Path(ge=1), q: Optional[int] = Query(None, gt=2, lt=5)):
    return {"n": n, "q": q}


@app.get("/strings")
def strings(s: Annotated[str, Query(min_length=2, max_length=5, pattern="^[a-z]+$")] = "ab"):
    return {"s": s}


@app.get("/floats")
def floats(v: Annotated[float, Query(gt=0.5, allow_inf_nan=False)] = 1.0):
    return {"v": v}


@app.get("/decimal")
def decimal_param(v: Annotated[decimal.Decimal, Query(max_digits=4, decimal_places=2)]):
    SEEN["decimal"] = v
    return {"v": v}


@app.get("/enum/{color}")
def enums(color: Color, level: Level = Level.one, letter: Literal["a", "b"] = "a"):
    SEEN["enum"] = (color, level)
    return {"color": color, "level": level, "letter": letter, "value": color.value}


@app.get("/extra/{u}")
def extra_types(
    u: uuid.UUID,
    d: datetime.date,
    dt: Optional[datetime.datetime] = None,
    dec: decimal.Decimal = decimal.Decimal("1.10"),
    td: Optional[datetime.timedelta] = None,
    t: Optional[datetime.time] = None,
):
    SEEN["extra"] = {"u": u, "d": d, "dt": dt, "dec": dec, "td": td, "t": t}
    return {"u": u, "d": d, "dt": dt, "dec": dec, "td": td, "t": t}


@app.get("/union")
def union(v: Union[int, str]):
    return {"v": v, "type": type(v).__name__}


@app.get("/json-query")
def json_query(j: Annotated[Json[list[int]], Query()]):
    return j


@app.get("/headers")
def headers(
    user_agent: Annotated[Optional[str], Header()] = None,
    x_token: Annotated[list[str], Header()] = [],  # noqa: B006 (the FastAPI idiom)
    x_num: Annotated[int, Header()] = 0,
    strange_header: Annotated[Optional[str], Header(convert_underscores=False)] = None,
):
    return {"ua": user_agent, "x_token": x_token, "x_num": x_num, "strange": strange_header}


@app.get("/header-required")
def header_required(x_key: Annotated[str, Header(min_length=3)]):
    return {"x_key": x_key}


@app.get("/query-and-header")
def query_and_header(q: Annotated[str, Query()], qh: Annotated[str, Header(alias="q")]):
    return {"q": q, "qh": qh}


@app.get("/cookies")
def cookies(ads_id: Annotated[Optional[str], Cookie()] = None, n: Annotated[int, Cookie()] = 1):
    return {"ads_id": ads_id, "n": n}


@app.get("/cookie-required")
def cookie_required(session: Annotated[str, Cookie()]):
    return {"session": session}


class FilterParams(BaseModel):
    model_config = {"extra": "forbid"}
    limit: int = Field(100, gt=0, le=100)
    offset: int = Field(0, ge=0)
    order_by: Literal["created_at", "updated_at"] = "created_at"
    tags: list[str] = []


@app.get("/query-model")
def query_model(filters: Annotated[FilterParams, Query()]):
    SEEN["query-model"] = filters
    return filters


class LooseQuery(BaseModel):
    a: int = 1
    b: Optional[str] = None


@app.get("/query-model-loose")
def query_model_loose(filters: Annotated[LooseQuery, Query()]):
    return filters


class AliasedQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    page_size: int = Field(10, alias="pageSize")
    sort: Optional[str] = None


@app.get("/query-model-alias")
def query_model_alias(m: Annotated[AliasedQuery, Query()]):
    return m.model_dump()


class PartA(BaseModel):
    a: int = 0


class PartB(BaseModel):
    b: int = 0


@app.get("/two-query-models")
def two_query_models(qa: Annotated[PartA, Query()], qb: Annotated[PartB, Query()]):
    return {"a": qa.a, "b": qb.b}


class CommonHeaders(BaseModel):
    model_config = {"extra": "forbid"}
    host: str
    save_data: bool
    if_modified_since: Optional[str] = None
    traceparent: Optional[str] = None
    x_tag: list[str] = []


@app.get("/header-model")
def header_model(h: Annotated[CommonHeaders, Header()]):
    return h


class RawHeaders(BaseModel):
    save_data: Optional[str] = None


@app.get("/header-model-raw")
def header_model_raw(h: Annotated[RawHeaders, Header(convert_underscores=False)]):
    return h


class Cookies(BaseModel):
    model_config = {"extra": "forbid"}
    session_id: str
    fatebook_tracker: Optional[str] = None
    googall_tracker: Optional[str] = None


@app.get("/cookie-model")
def cookie_model(c: Annotated[Cookies, Cookie()]):
    return c


@app.get("/cookie-model-optional")
def cookie_model_optional(c: Annotated[Optional[PartA], Cookie()] = None):
    return {"c": None if c is None else c.a}


@app.get("/path/{p:path}")
def path_convertor(p: str):
    return {"p": p}


def pagination(skip: int = 0, limit: Annotated[int, Query(le=50)] = 10) -> dict[str, int]:
    return {"skip": skip, "limit": limit}


@app.get("/dependency-params")
def dependency_params(page: Annotated[dict[str, int], Depends(pagination)], q: str = ""):
    return {**page, "q": q}


REQUESTS: list[Request] = [
    ("path-types", "GET", "/types/3/1.5/abc/true", {}),
    ("path-bad-int", "GET", "/types/x/1.5/abc/true", {}),
    ("path-all-bad", "GET", "/types/x/y/abc/maybe", {}),
    *[(f"bool-{v or 'empty'}", "GET", f"/bool?b={v}", {}) for v in
      ["1", "0", "yes", "no", "on", "off", "true", "False", "TRUE", "t", "f", "y", "n", "2", ""]],
    ("bool-missing", "GET", "/bool", {}),
    ("query-all", "GET", "/query?a=1&b=2&c=x&d=1&e=5", {}),
    ("query-defaults", "GET", "/query?a=7", {}),
    ("query-missing", "GET", "/query", {}),
    ("query-bad", "GET", "/query?a=x&b=y&e=z", {}),
    ("query-empty", "GET", "/query?a=&b=", {}),
    ("query-repeated-scalar", "GET", "/query?a=1&a=2", {}),
    ("query-unknown-ignored", "GET", "/query?a=1&zzz=2", {}),
    ("lists-empty", "GET", "/lists", {}),
    ("lists", "GET", "/lists?x=1&x=2&y=a&y=b&z=3&z=3&z=1", {}),
    ("lists-bad", "GET", "/lists?x=1&x=a&z=b", {}),
    ("list-required-short", "GET", "/list-required?x=1", {}),
    ("list-required-missing", "GET", "/list-required", {}),
    ("list-required-ok", "GET", "/list-required?x=1&x=2", {}),
    ("list-optional-none", "GET", "/list-optional", {}),
    ("list-optional-too-long", "GET", "/list-optional?x=a&y=1&y=2&y=3", {}),
    ("list-optional-ok", "GET", "/list-optional?x=a&x=b&y=1&y=2", {}),
    ("list-factory-default", "GET", "/list-factory", {}),
    ("list-factory", "GET", "/list-factory?x=3", {}),
    ("alias", "GET", "/alias?item-query=foo&vv=3", {}),
    ("alias-python-names-ignored", "GET", "/alias?item_query=foo&v=3", {}),
    ("alias-bad", "GET", "/alias?vv=x", {}),
    ("alias-choices-1", "GET", "/alias-choices?v1=1", {}),
    ("alias-choices-2", "GET", "/alias-choices?v2=2", {}),
    ("alias-choices-missing", "GET", "/alias-choices?v=2", {}),
    ("path-alias", "GET", "/path-alias/3", {}),
    ("path-alias-bad", "GET", "/path-alias/x", {}),
    ("numbers", "GET", "/numbers/5?q=2.5&m=6", {}),
    ("numbers-gt", "GET", "/numbers/0", {}),
    ("numbers-le-ge-multiple", "GET", "/numbers/11?q=1&m=4", {}),
    ("numbers-lt", "GET", "/numbers/3?q=3", {}),
    ("numbers-float-for-int", "GET", "/numbers/3.0", {}),
    ("numbers-old-style", "GET", "/numbers-old-style/1?q=3", {}),
    ("numbers-old-style-bad", "GET", "/numbers-old-style/0?q=5", {}),
    ("strings", "GET", "/strings?s=abc", {}),
    ("strings-short", "GET", "/strings?s=a", {}),
    ("strings-long", "GET", "/strings?s=abcdef", {}),
    ("strings-pattern", "GET", "/strings?s=AB1", {}),
    ("floats-nan", "GET", "/floats?v=nan", {}),
    ("floats-inf", "GET", "/floats?v=inf", {}),
    ("floats-small", "GET", "/floats?v=0.1", {}),
    ("decimal", "GET", "/decimal?v=12.34", {}),
    ("decimal-digits", "GET", "/decimal?v=123.456", {}),
    ("decimal-places", "GET", "/decimal?v=1.234", {}),
    ("enum", "GET", "/enum/red?level=2&letter=b", {}),
    ("enum-bad", "GET", "/enum/blue?level=3&letter=c", {}),
    ("extra-types", "GET",
     "/extra/12345678-1234-5678-1234-567812345678?d=2024-01-02&dt=2024-01-02T03:04:05Z"
     "&dec=3.14&td=PT1H&t=10:11:12", {}),
    ("extra-types-bad", "GET", "/extra/notauuid?d=2024-13-01&dt=x&dec=abc&td=x&t=25:00", {}),
    ("extra-types-missing", "GET", "/extra/12345678-1234-5678-1234-567812345678", {}),
    ("union-int", "GET", "/union?v=3", {}),
    ("union-str", "GET", "/union?v=x", {}),
    ("json-query", "GET", "/json-query?j=[1,2]", {}),
    ("json-query-invalid", "GET", "/json-query?j={bad", {}),
    ("json-query-type", "GET", '/json-query?j=["x"]', {}),
    ("headers", "GET", "/headers", {"headers": [("User-Agent", "ua/1"), ("X-Token", "a"),
                                               ("X-Token", "b"), ("x-num", "5"),
                                               ("strange_header", "s")]}),
    ("headers-bad", "GET", "/headers", {"headers": {"x-num": "q"}}),
    ("header-required-missing", "GET", "/header-required", {}),
    ("header-required-short", "GET", "/header-required", {"headers": {"x-key": "ab"}}),
    ("header-required-underscore", "GET", "/header-required", {"headers": {"x_key": "abcd"}}),
    ("header-required-ok", "GET", "/header-required", {"headers": {"X-Key": "abcd"}}),
    ("query-and-header", "GET", "/query-and-header?q=1", {"headers": {"q": "2"}}),
    ("cookies", "GET", "/cookies", {"headers": {"cookie": "ads_id=abc; n=3"}}),
    ("cookies-bad", "GET", "/cookies", {"headers": {"cookie": "n=x"}}),
    ("cookie-required-missing", "GET", "/cookie-required", {}),
    ("query-model-defaults", "GET", "/query-model", {}),
    ("query-model", "GET", "/query-model?limit=10&offset=2&order_by=updated_at&tags=a&tags=b", {}),
    ("query-model-bad", "GET", "/query-model?limit=0&offset=-1&order_by=x", {}),
    ("query-model-forbid-extra", "GET", "/query-model?limit=5&tool=plumbus", {}),
    ("query-model-loose-extra", "GET", "/query-model-loose?a=2&zzz=1", {}),
    ("query-model-alias", "GET", "/query-model-alias?pageSize=3&sort=a", {}),
    ("query-model-alias-by-name", "GET", "/query-model-alias?page_size=3", {}),
    ("query-model-alias-bad", "GET", "/query-model-alias?pageSize=x", {}),
    ("two-query-models", "GET", "/two-query-models?a=1&b=2", {}),
    ("header-model", "GET", "/header-model", {"headers": [
        ("save-data", "true"), ("if-modified-since", "x"), ("traceparent", "t"),
        ("x-tag", "a"), ("x-tag", "b")]}),
    ("header-model-missing", "GET", "/header-model", {"headers": {"host": ""}}),
    ("header-model-forbid-extra", "GET", "/header-model",
     {"headers": {"save-data": "1", "x-extra": "e"}}),
    ("header-model-raw", "GET", "/header-model-raw", {"headers": {"save_data": "u"}}),
    ("header-model-raw-dash", "GET", "/header-model-raw", {"headers": {"save-data": "u"}}),
    ("cookie-model", "GET", "/cookie-model",
     {"headers": {"cookie": "session_id=1; fatebook_tracker=2"}}),
    ("cookie-model-missing", "GET", "/cookie-model", {}),
    ("cookie-model-forbid-extra", "GET", "/cookie-model",
     {"headers": {"cookie": "session_id=1; santa_tracker=good-list-please"}}),
    ("cookie-model-optional", "GET", "/cookie-model-optional", {"headers": {"cookie": "a=4"}}),
    ("cookie-model-optional-none", "GET", "/cookie-model-optional", {}),
    ("path-convertor", "GET", "/path/a/b/c.txt", {}),
    ("path-convertor-encoded", "GET", "/path/a%2Fb/%20c", {}),
    ("dependency-params", "GET", "/dependency-params?skip=5&q=z", {}),
    ("dependency-params-bad", "GET", "/dependency-params?skip=x&limit=51", {}),
]  # fmt: skip

# BEGIN RECORDED (scripts/record_fastapi_expectations.py; fastapi 0.165.0, starlette 1.10.0)
EXPECTED: dict[str, Expected] = {
    "path-types": (200, "application/json", b'{"i":3,"f":1.5,"s":"abc","b":true}'),
    "path-bad-int": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["path","i"],"msg":"Input'
            b" should be a valid integer, unable to parse string as an integer"
            b'","input":"x"}]}'
        ),
    ),
    "path-all-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["path","i"],"msg":"Input'
            b" should be a valid integer, unable to parse string as an integer"
            b'","input":"x"},{"type":"float_parsing","loc":["path","f"],"msg":'
            b'"Input should be a valid number, unable to parse string as a num'
            b'ber","input":"y"},{"type":"bool_parsing","loc":["path","b"],"msg'
            b'":"Input should be a valid boolean, unable to interpret input","'
            b'input":"maybe"}]}'
        ),
    ),
    "bool-1": (200, "application/json", b'{"b":true}'),
    "bool-0": (200, "application/json", b'{"b":false}'),
    "bool-yes": (200, "application/json", b'{"b":true}'),
    "bool-no": (200, "application/json", b'{"b":false}'),
    "bool-on": (200, "application/json", b'{"b":true}'),
    "bool-off": (200, "application/json", b'{"b":false}'),
    "bool-true": (200, "application/json", b'{"b":true}'),
    "bool-False": (200, "application/json", b'{"b":false}'),
    "bool-TRUE": (200, "application/json", b'{"b":true}'),
    "bool-t": (200, "application/json", b'{"b":true}'),
    "bool-f": (200, "application/json", b'{"b":false}'),
    "bool-y": (200, "application/json", b'{"b":true}'),
    "bool-n": (200, "application/json", b'{"b":false}'),
    "bool-2": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"bool_parsing","loc":["query","b"],"msg":"Inp'
            b'ut should be a valid boolean, unable to interpret input","input"'
            b':"2"}]}'
        ),
    ),
    "bool-empty": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"bool_parsing","loc":["query","b"],"msg":"Inp'
            b'ut should be a valid boolean, unable to interpret input","input"'
            b':""}]}'
        ),
    ),
    "bool-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["query","b"],"msg":"Field re'
            b'quired","input":null}]}'
        ),
    ),
    "query-all": (200, "application/json", b'{"a":1,"b":2.0,"c":"x","d":true,"e":5}'),
    "query-defaults": (200, "application/json", b'{"a":7,"b":1.5,"c":null,"d":false,"e":null}'),
    "query-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["query","a"],"msg":"Field re'
            b'quired","input":null}]}'
        ),
    ),
    "query-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","a"],"msg":"Inpu'
            b"t should be a valid integer, unable to parse string as an intege"
            b'r","input":"x"},{"type":"float_parsing","loc":["query","b"],"msg'
            b'":"Input should be a valid number, unable to parse string as a n'
            b'umber","input":"y"},{"type":"int_parsing","loc":["query","e"],"m'
            b'sg":"Input should be a valid integer, unable to parse string as '
            b'an integer","input":"z"}]}'
        ),
    ),
    "query-empty": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","a"],"msg":"Inpu'
            b"t should be a valid integer, unable to parse string as an intege"
            b'r","input":""},{"type":"float_parsing","loc":["query","b"],"msg"'
            b':"Input should be a valid number, unable to parse string as a nu'
            b'mber","input":""}]}'
        ),
    ),
    "query-repeated-scalar": (
        200,
        "application/json",
        b'{"a":2,"b":1.5,"c":null,"d":false,"e":null}',
    ),
    "query-unknown-ignored": (
        200,
        "application/json",
        b'{"a":1,"b":1.5,"c":null,"d":false,"e":null}',
    ),
    "lists-empty": (200, "application/json", b'{"x":[],"y":null,"z":[]}'),
    "lists": (200, "application/json", b'{"x":[1,2],"y":["a","b"],"z":[1,3]}'),
    "lists-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","x",1],"msg":"In'
            b"put should be a valid integer, unable to parse string as an inte"
            b'ger","input":"a"},{"type":"int_parsing","loc":["query","z",0],"m'
            b'sg":"Input should be a valid integer, unable to parse string as '
            b'an integer","input":"b"}]}'
        ),
    ),
    "list-required-short": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"too_short","loc":["query","x"],"msg":"List s'
            b'hould have at least 2 items after validation, not 1","input":["1'
            b'"],"ctx":{"field_type":"List","min_length":2,"actual_length":1}}'
            b"]}"
        ),
    ),
    "list-required-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["query","x"],"msg":"Field re'
            b'quired","input":null}]}'
        ),
    ),
    "list-required-ok": (200, "application/json", b'{"x":[1,2]}'),
    "list-optional-none": (200, "application/json", b'{"x":null,"y":null}'),
    "list-optional-too-long": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"too_long","loc":["query","y"],"msg":"List sh'
            b'ould have at most 2 items after validation, not 3","input":["1",'
            b'"2","3"],"ctx":{"field_type":"List","max_length":2,"actual_lengt'
            b'h":3}}]}'
        ),
    ),
    "list-optional-ok": (200, "application/json", b'{"x":["a","b"],"y":[1,2]}'),
    "list-factory-default": (200, "application/json", b'{"x":[1,2]}'),
    "list-factory": (200, "application/json", b'{"x":[3]}'),
    "alias": (200, "application/json", b'{"item_query":"foo","v":3}'),
    "alias-python-names-ignored": (200, "application/json", b'{"item_query":"default","v":0}'),
    "alias-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","vv"],"msg":"Inp'
            b"ut should be a valid integer, unable to parse string as an integ"
            b'er","input":"x"}]}'
        ),
    ),
    "alias-choices-1": (200, "application/json", b'{"v":1}'),
    "alias-choices-2": (200, "application/json", b'{"v":2}'),
    "alias-choices-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["query","v1"],"msg":"Field r'
            b'equired","input":null}]}'
        ),
    ),
    "path-alias": (404, "application/json", b'{"detail":"Not Found"}'),
    "path-alias-bad": (404, "application/json", b'{"detail":"Not Found"}'),
    "numbers": (200, "application/json", b'{"n":5,"q":2.5,"m":6}'),
    "numbers-gt": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"greater_than","loc":["path","n"],"msg":"Inpu'
            b't should be greater than 0","input":"0","ctx":{"gt":0}}]}'
        ),
    ),
    "numbers-le-ge-multiple": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"less_than_equal","loc":["path","n"],"msg":"I'
            b'nput should be less than or equal to 10","input":"11","ctx":{"le'
            b'":10}},{"type":"greater_than_equal","loc":["query","q"],"msg":"I'
            b'nput should be greater than or equal to 1.5","input":"1","ctx":{'
            b'"ge":1.5}},{"type":"multiple_of","loc":["query","m"],"msg":"Inpu'
            b't should be a multiple of 3","input":"4","ctx":{"multiple_of":3}'
            b"}]}"
        ),
    ),
    "numbers-lt": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"less_than","loc":["query","q"],"msg":"Input '
            b'should be less than 3","input":"3","ctx":{"lt":3.0}}]}'
        ),
    ),
    "numbers-float-for-int": (200, "application/json", b'{"n":3,"q":2,"m":3}'),
    "numbers-old-style": (200, "application/json", b'{"n":1,"q":3}'),
    "numbers-old-style-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"greater_than_equal","loc":["path","n"],"msg"'
            b':"Input should be greater than or equal to 1","input":"0","ctx":'
            b'{"ge":1}},{"type":"less_than","loc":["query","q"],"msg":"Input s'
            b'hould be less than 5","input":"5","ctx":{"lt":5}}]}'
        ),
    ),
    "strings": (200, "application/json", b'{"s":"abc"}'),
    "strings-short": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_too_short","loc":["query","s"],"msg":'
            b'"String should have at least 2 characters","input":"a","ctx":{"m'
            b'in_length":2}}]}'
        ),
    ),
    "strings-long": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_too_long","loc":["query","s"],"msg":"'
            b'String should have at most 5 characters","input":"abcdef","ctx":'
            b'{"max_length":5}}]}'
        ),
    ),
    "strings-pattern": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_pattern_mismatch","loc":["query","s"]'
            b',"msg":"String should match pattern \'^[a-z]+$\'","input":"AB1","c'
            b'tx":{"pattern":"^[a-z]+$"}}]}'
        ),
    ),
    "floats-nan": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"finite_number","loc":["query","v"],"msg":"In'
            b'put should be a finite number","input":"nan"}]}'
        ),
    ),
    "floats-inf": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"finite_number","loc":["query","v"],"msg":"In'
            b'put should be a finite number","input":"inf"}]}'
        ),
    ),
    "floats-small": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"greater_than","loc":["query","v"],"msg":"Inp'
            b'ut should be greater than 0.5","input":"0.1","ctx":{"gt":0.5}}]}'
        ),
    ),
    "decimal": (200, "application/json", b'{"v":12.34}'),
    "decimal-digits": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"decimal_max_digits","loc":["query","v"],"msg'
            b'":"Decimal input should have no more than 4 digits in total","in'
            b'put":"123.456","ctx":{"max_digits":4}}]}'
        ),
    ),
    "decimal-places": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"decimal_max_places","loc":["query","v"],"msg'
            b'":"Decimal input should have no more than 2 decimal places","inp'
            b'ut":"1.234","ctx":{"decimal_places":2}}]}'
        ),
    ),
    "enum": (200, "application/json", b'{"color":"red","level":2,"letter":"b","value":"red"}'),
    "enum-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"enum","loc":["path","color"],"msg":"Input sh'
            b'ould be \'red\' or \'green\'","input":"blue","ctx":{"expected":"\'red'
            b'\' or \'green\'"}},{"type":"enum","loc":["query","level"],"msg":"In'
            b'put should be 1 or 2","input":"3","ctx":{"expected":"1 or 2"}},{'
            b'"type":"literal_error","loc":["query","letter"],"msg":"Input sho'
            b'uld be \'a\' or \'b\'","input":"c","ctx":{"expected":"\'a\' or \'b\'"}}]'
            b"}"
        ),
    ),
    "extra-types": (
        200,
        "application/json",
        (
            b'{"u":"12345678-1234-5678-1234-567812345678","d":"2024-01-02","dt'
            b'":"2024-01-02T03:04:05+00:00","dec":3.14,"td":3600.0,"t":"10:11:'
            b'12"}'
        ),
    ),
    "extra-types-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"uuid_parsing","loc":["path","u"],"msg":"Inpu'
            b't should be a valid UUID, invalid character: found `n` at 0","in'
            b'put":"notauuid","ctx":{"error":"invalid character: found `n` at '
            b'0"}},{"type":"date_from_datetime_parsing","loc":["query","d"],"m'
            b'sg":"Input should be a valid date or datetime, month value is ou'
            b'tside expected range of 1-12","input":"2024-13-01","ctx":{"error'
            b'":"month value is outside expected range of 1-12"}},{"type":"dat'
            b'etime_from_date_parsing","loc":["query","dt"],"msg":"Input shoul'
            b'd be a valid datetime or date, input is too short","input":"x","'
            b'ctx":{"error":"input is too short"}},{"type":"decimal_parsing","'
            b'loc":["query","dec"],"msg":"Input should be a valid decimal","in'
            b'put":"abc"},{"type":"time_delta_parsing","loc":["query","td"],"m'
            b'sg":"Input should be a valid timedelta, invalid digit in duratio'
            b'n","input":"x","ctx":{"error":"invalid digit in duration"}},{"ty'
            b'pe":"time_parsing","loc":["query","t"],"msg":"Input should be in'
            b" a valid time format, hour value is outside expected range of 0-"
            b'23","input":"25:00","ctx":{"error":"hour value is outside expect'
            b'ed range of 0-23"}}]}'
        ),
    ),
    "extra-types-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["query","d"],"msg":"Field re'
            b'quired","input":null}]}'
        ),
    ),
    "union-int": (200, "application/json", b'{"v":"3","type":"str"}'),
    "union-str": (200, "application/json", b'{"v":"x","type":"str"}'),
    "json-query": (200, "application/json", b"[1,2]"),
    "json-query-invalid": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"json_invalid","loc":["query","j"],"msg":"Inv'
            b'alid JSON: key must be a string at line 1 column 2","input":"{ba'
            b'd","ctx":{"error":"key must be a string at line 1 column 2"}}]}'
        ),
    ),
    "json-query-type": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","j",0],"msg":"In'
            b"put should be a valid integer, unable to parse string as an inte"
            b'ger","input":"x"}]}'
        ),
    ),
    "headers": (
        200,
        "application/json",
        b'{"ua":"ua/1","x_token":["a","b"],"x_num":5,"strange":"s"}',
    ),
    "headers-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["header","x-num"],"msg":'
            b'"Input should be a valid integer, unable to parse string as an i'
            b'nteger","input":"q"}]}'
        ),
    ),
    "header-required-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["header","x-key"],"msg":"Fie'
            b'ld required","input":null}]}'
        ),
    ),
    "header-required-short": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_too_short","loc":["header","x-key"],"'
            b'msg":"String should have at least 3 characters","input":"ab","ct'
            b'x":{"min_length":3}}]}'
        ),
    ),
    "header-required-underscore": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["header","x-key"],"msg":"Fie'
            b'ld required","input":null}]}'
        ),
    ),
    "header-required-ok": (200, "application/json", b'{"x_key":"abcd"}'),
    "query-and-header": (200, "application/json", b'{"q":"1","qh":"2"}'),
    "cookies": (200, "application/json", b'{"ads_id":"abc","n":3}'),
    "cookies-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["cookie","n"],"msg":"Inp'
            b"ut should be a valid integer, unable to parse string as an integ"
            b'er","input":"x"}]}'
        ),
    ),
    "cookie-required-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["cookie","session"],"msg":"F'
            b'ield required","input":null}]}'
        ),
    ),
    "query-model-defaults": (
        200,
        "application/json",
        b'{"limit":100,"offset":0,"order_by":"created_at","tags":[]}',
    ),
    "query-model": (
        200,
        "application/json",
        b'{"limit":10,"offset":2,"order_by":"updated_at","tags":["a","b"]}',
    ),
    "query-model-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"greater_than","loc":["query","limit"],"msg":'
            b'"Input should be greater than 0","input":"0","ctx":{"gt":0}},{"t'
            b'ype":"greater_than_equal","loc":["query","offset"],"msg":"Input '
            b'should be greater than or equal to 0","input":"-1","ctx":{"ge":0'
            b'}},{"type":"literal_error","loc":["query","order_by"],"msg":"Inp'
            b'ut should be \'created_at\' or \'updated_at\'","input":"x","ctx":{"e'
            b"xpected\":\"'created_at' or 'updated_at'\"}}]}"
        ),
    ),
    "query-model-forbid-extra": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"extra_forbidden","loc":["query","tool"],"msg'
            b'":"Extra inputs are not permitted","input":"plumbus"}]}'
        ),
    ),
    "query-model-loose-extra": (200, "application/json", b'{"a":2,"b":null}'),
    "query-model-alias": (200, "application/json", b'{"page_size":3,"sort":"a"}'),
    "query-model-alias-by-name": (200, "application/json", b'{"page_size":3,"sort":null}'),
    "query-model-alias-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","pageSize"],"msg'
            b'":"Input should be a valid integer, unable to parse string as an'
            b' integer","input":"x"}]}'
        ),
    ),
    "two-query-models": (200, "application/json", b'{"a":1,"b":2}'),
    "header-model": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"extra_forbidden","loc":["header","accept"],"'
            b'msg":"Extra inputs are not permitted","input":"*/*"},{"type":"ex'
            b'tra_forbidden","loc":["header","accept-encoding"],"msg":"Extra i'
            b'nputs are not permitted","input":"gzip, deflate"},{"type":"extra'
            b'_forbidden","loc":["header","connection"],"msg":"Extra inputs ar'
            b'e not permitted","input":"keep-alive"},{"type":"extra_forbidden"'
            b',"loc":["header","user-agent"],"msg":"Extra inputs are not permi'
            b'tted","input":"testclient"}]}'
        ),
    ),
    "header-model-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["header","save-data"],"msg":'
            b'"Field required","input":{"host":"","accept":"*/*","accept-encod'
            b'ing":"gzip, deflate","connection":"keep-alive","user-agent":"tes'
            b'tclient"}},{"type":"extra_forbidden","loc":["header","accept"],"'
            b'msg":"Extra inputs are not permitted","input":"*/*"},{"type":"ex'
            b'tra_forbidden","loc":["header","accept-encoding"],"msg":"Extra i'
            b'nputs are not permitted","input":"gzip, deflate"},{"type":"extra'
            b'_forbidden","loc":["header","connection"],"msg":"Extra inputs ar'
            b'e not permitted","input":"keep-alive"},{"type":"extra_forbidden"'
            b',"loc":["header","user-agent"],"msg":"Extra inputs are not permi'
            b'tted","input":"testclient"}]}'
        ),
    ),
    "header-model-forbid-extra": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"extra_forbidden","loc":["header","accept"],"'
            b'msg":"Extra inputs are not permitted","input":"*/*"},{"type":"ex'
            b'tra_forbidden","loc":["header","accept-encoding"],"msg":"Extra i'
            b'nputs are not permitted","input":"gzip, deflate"},{"type":"extra'
            b'_forbidden","loc":["header","connection"],"msg":"Extra inputs ar'
            b'e not permitted","input":"keep-alive"},{"type":"extra_forbidden"'
            b',"loc":["header","user-agent"],"msg":"Extra inputs are not permi'
            b'tted","input":"testclient"},{"type":"extra_forbidden","loc":["he'
            b'ader","x-extra"],"msg":"Extra inputs are not permitted","input":'
            b'"e"}]}'
        ),
    ),
    "header-model-raw": (200, "application/json", b'{"save_data":"u"}'),
    "header-model-raw-dash": (200, "application/json", b'{"save_data":null}'),
    "cookie-model": (
        200,
        "application/json",
        b'{"session_id":"1","fatebook_tracker":"2","googall_tracker":null}',
    ),
    "cookie-model-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["cookie","session_id"],"msg"'
            b':"Field required","input":{}}]}'
        ),
    ),
    "cookie-model-forbid-extra": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"extra_forbidden","loc":["cookie","santa_trac'
            b'ker"],"msg":"Extra inputs are not permitted","input":"good-list-'
            b'please"}]}'
        ),
    ),
    "cookie-model-optional": (200, "application/json", b'{"c":4}'),
    "cookie-model-optional-none": (200, "application/json", b'{"c":null}'),
    "path-convertor": (200, "application/json", b'{"p":"a/b/c.txt"}'),
    "path-convertor-encoded": (200, "application/json", b'{"p":"a/b/ c"}'),
    "dependency-params": (200, "application/json", b'{"skip":5,"limit":10,"q":"z"}'),
    "dependency-params-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","skip"],"msg":"I'
            b"nput should be a valid integer, unable to parse string as an int"
            b'eger","input":"x"},{"type":"less_than_equal","loc":["query","lim'
            b'it"],"msg":"Input should be less than or equal to 50","input":"5'
            b'1","ctx":{"le":50}}]}'
        ),
    ),
}
# END RECORDED


@pytest.fixture(scope="module")
def client() -> TestClient:
    # The recorded 422s list every header a model forbids, Accept-Encoding among them: pin
    # it, since httpx offers zstd only where zstandard is installed.
    client = TestClient(app)
    client.headers["accept-encoding"] = "gzip, deflate"  # in place: the order stays httpx's
    return client


@pytest.mark.parametrize("request_", REQUESTS, ids=ids(REQUESTS))
def test_answers_as_fastapi_does(client: TestClient, request_: Request) -> None:
    check(client, request_, EXPECTED)


def test_every_request_was_recorded() -> None:
    assert sorted(EXPECTED) == sorted(ids(REQUESTS))


# -- what the endpoint received ------------------------------------------------------------


def test_extra_types_arrive_as_python_objects(client: TestClient) -> None:
    url = "/extra/12345678-1234-5678-1234-567812345678?d=2024-01-02&dec=3.14&td=PT1H&t=10:11:12"
    assert client.get(url).status_code == 200
    assert SEEN["extra"] == {
        "u": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "d": datetime.date(2024, 1, 2),
        "dt": None,
        "dec": decimal.Decimal("3.14"),
        "td": datetime.timedelta(hours=1),
        "t": datetime.time(10, 11, 12),
    }
    # Decimals are encoded as JSON numbers (jsonable_encoder), but arrive as Decimal.
    assert client.get("/decimal?v=1.5").content == b'{"v":1.5}'
    assert type(SEEN["decimal"]) is decimal.Decimal


def test_enums_arrive_as_members(client: TestClient) -> None:
    assert client.get("/enum/green?level=2").status_code == 200
    assert SEEN["enum"] == (Color.green, Level.two)
    assert type(SEEN["enum"][0]) is Color and type(SEEN["enum"][1]) is Level


def test_query_model_instance(client: TestClient) -> None:
    client.get("/query-model?limit=3&tags=x")
    assert SEEN["query-model"] == FilterParams(limit=3, tags=["x"])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/query?a=1&b=2.5", {"a": 1, "b": 2.5, "c": None, "d": False, "e": None}),
        ("/lists?x=3&x=1", {"x": [3, 1], "y": None, "z": []}),
        ("/alias?item-query=q", {"item_query": "q", "v": 0}),
        ("/numbers/10?q=1.5&m=9", {"n": 10, "q": 1.5, "m": 9}),
        ("/path/x/y/", {"p": "x/y/"}),
        # Union[int, str] in lax mode: the str member is an exact match for "3".
        ("/union?v=3", {"v": "3", "type": "str"}),
    ],
)
def test_plain_values(client: TestClient, url: str, expected: dict[str, Any]) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.json() == expected


def test_header_lists_and_underscores(client: TestClient) -> None:
    response = client.get(
        "/headers",
        headers=[("X-Token", "a"), ("X-Token", "b"), ("X-Num", "7"), ("strange_header", "ok")],
    )
    assert response.json() == {"ua": "testclient", "x_token": ["a", "b"], "x_num": 7,
                               "strange": "ok"}  # fmt: skip
    # convert_underscores: x_key is read from "x-key", never from "x_key".
    assert client.get("/header-required", headers={"x_key": "abcd"}).status_code == 422


def test_missing_required_query_error_shape(client: TestClient) -> None:
    response = client.get("/query")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "detail": [{"type": "missing", "loc": ["query", "a"], "msg": "Field required",
                    "input": None}]
    }  # fmt: skip


def test_constraint_error_carries_ctx(client: TestClient) -> None:
    detail = client.get("/numbers/0").json()["detail"]
    assert detail == [
        {"type": "greater_than", "loc": ["path", "n"], "msg": "Input should be greater than 0",
         "input": "0", "ctx": {"gt": 0}}
    ]  # fmt: skip
    detail = client.get("/strings?s=AB1").json()["detail"]
    assert detail[0]["type"] == "string_pattern_mismatch"
    assert detail[0]["ctx"] == {"pattern": "^[a-z]+$"}


def test_path_param_cannot_have_a_default() -> None:
    other = FastAPI()
    with pytest.raises(AssertionError, match="Path parameters cannot have default values"):

        @other.get("/x/{item_id}")
        def endpoint(item_id: Annotated[int, Path()] = 3) -> None: ...


def test_unsupported_query_type_is_refused_at_registration() -> None:
    other = FastAPI()
    with pytest.raises(AssertionError, match="must be one of the supported types"):

        @other.get("/x")
        def endpoint(j: Annotated[Json[dict[str, int]], Query()]) -> None: ...
