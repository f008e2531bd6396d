"""Request bodies: models, several bodies, embed, nesting, dataclasses, scalars, JSON rules, limits.

``REQUESTS`` are answered byte for byte as FastAPI 0.165 answers them (``EXPECTED``
was recorded from it: see tests/framework/recorded.py).
"""

# Optional[...] and Union[...] on purpose: FastAPI apps are written that way.
# ruff: noqa: UP045

from __future__ import annotations

import dataclasses
import datetime
import decimal
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel, Field, HttpUrl

from aster import APIRouter, Body, FastAPI, Request
from aster.middleware.base import BaseHTTPMiddleware
from aster.testclient import TestClient

from .recorded import Expected, check, ids
from .recorded import Request as Req

app = FastAPI()
loose = FastAPI(strict_content_type=False)
app.mount("/loose", loose)
limited = FastAPI(max_body_size=20)
app.mount("/limited", limited)
SEEN: dict[str, Any] = {}


class Image(BaseModel):
    url: HttpUrl
    name: str


class Item(BaseModel):
    name: str
    description: Optional[str] = None
    price: float = Field(gt=0)
    tax: Optional[float] = None
    tags: set[str] = set()
    images: Optional[list[Image]] = None


class User(BaseModel):
    username: str
    full_name: Optional[str] = None


class Offer(BaseModel):
    name: str
    items: list[Item]


@dataclasses.dataclass
class DataItem:
    name: str
    price: float
    description: Optional[str] = None


@app.post("/items")
async def create_item(item: Item):
    SEEN["item"] = item
    return item


@app.post("/items-sync")
def create_item_sync(item: Item):
    data = item.model_dump()
    data["tags"] = sorted(data["tags"])
    return data


@app.put("/items/{item_id}")
async def update_item(
    item_id: int,
    item: Item,
    user: User,
    importance: Annotated[int, Body(gt=0)],
    q: Optional[str] = None,
):
    return {"item_id": item_id, "item": item, "user": user, "importance": importance, "q": q}


@app.put("/embed/{item_id}")
async def embedded(item_id: int, item: Annotated[Item, Body(embed=True)]):
    return {"item_id": item_id, "item": item}


@app.post("/optional")
async def optional_body(item: Optional[Item] = None):
    return {"item": item}


@app.post("/dataclass")
async def dataclass_body(item: DataItem):
    SEEN["dataclass"] = item
    return item


@app.post("/scalars")
async def scalars(x: Annotated[int, Body()], y: Annotated[str, Body(min_length=2)] = "ab"):
    return {"x": x, "y": y}


@app.post("/scalar")
async def scalar(x: Annotated[int, Body()]):
    return {"x": x}


@app.post("/scalar-embed")
async def scalar_embed(x: Annotated[int, Body(embed=True)]):
    return {"x": x}


@app.post("/dict")
async def dict_body(weights: dict[int, float]):
    return weights


@app.post("/list")
async def list_body(images: list[Image]):
    return images


@app.post("/any")
async def any_body(payload: Any = Body()):
    return {"payload": payload}


@app.post("/bytes")
async def bytes_body(data: Annotated[bytes, Body()]):
    return {"len": len(data)}


@app.post("/extra-types")
async def extra_types(
    d: Annotated[datetime.datetime, Body()],
    u: Annotated[uuid.UUID, Body()],
    dec: Annotated[decimal.Decimal, Body()],
    td: Annotated[datetime.timedelta, Body()],
):
    SEEN["extra"] = (d, u, dec, td)
    return {"d": d, "u": u, "dec": dec, "td": td}


@app.post("/nested")
async def nested(offer: Offer):
    return offer


@loose.post("/items")
async def loose_items(item: Item):
    return item


@limited.post("/echo")
async def limited_echo(request: Request):
    return {"len": len(await request.body())}


@limited.post("/model")
async def limited_model(item: User):
    return item


@limited.post("/ignores-body")
async def limited_ignores_body():
    return {"ignored": True}


@limited.post("/large", max_body_size=100)
async def limited_large(request: Request):
    return {"len": len(await request.body())}


@app.post("/route-limit", max_body_size=5)
async def route_limit(x: Annotated[str, Body()]):
    return {"x": x}


router = APIRouter(max_body_size=8)


@router.post("/echo")
async def router_echo(request: Request):
    return {"len": len(await request.body())}


app.include_router(router, prefix="/router-limit")

OK = {"name": "Foo", "price": 3.5}
JSON = {"content-type": "application/json"}
BODY = '{"name": "a", "price": 1}'

REQUESTS: list[Req] = [
    ("model", "POST", "/items", {"json": OK}),
    ("model-sync", "POST", "/items-sync", {"json": {**OK, "tags": ["b", "a", "b"]}}),
    ("model-missing-body", "POST", "/items", {}),
    ("model-empty-object", "POST", "/items", {"json": {}}),
    ("model-bad-types", "POST", "/items", {"json": {"name": 1, "price": "x", "tags": 3}}),
    ("model-constraint", "POST", "/items", {"json": {"name": "a", "price": 0}}),
    ("model-nested-invalid", "POST", "/items",
     {"json": {**OK, "images": [{"url": "nope", "name": "x"}]}}),
    ("model-nested", "POST", "/items",
     {"json": {**OK, "images": [{"url": "http://example.com/a.png", "name": "x"}]}}),
    ("malformed", "POST", "/items", {"content": b'{"name": "a", ', "headers": JSON}),
    ("malformed-trailing-data", "POST", "/items", {"content": b'{"name": "a"} x', "headers": JSON}),
    ("malformed-utf8", "POST", "/items",
     {"content": b'{"name": "\xff", "price": 1}', "headers": JSON}),
    ("empty-body-json-type", "POST", "/items", {"content": b"", "headers": JSON}),
    ("no-content-type", "POST", "/items", {"content": BODY.encode()}),
    ("text-content-type", "POST", "/items",
     {"content": BODY.encode(), "headers": {"content-type": "text/plain"}}),
    ("form-content-type", "POST", "/items", {"data": {"name": "a", "price": "1"}}),
    ("json-suffix-type", "POST", "/items",
     {"content": BODY.encode(), "headers": {"content-type": "application/vnd.api+json"}}),
    ("json-charset", "POST", "/items",
     {"content": BODY.encode(), "headers": {"content-type": "application/json; charset=utf-8"}}),
    ("loose-no-content-type", "POST", "/loose/items", {"content": BODY.encode()}),
    ("loose-text-content-type", "POST", "/loose/items",
     {"content": BODY.encode(), "headers": {"content-type": "text/plain"}}),
    ("loose-malformed", "POST", "/loose/items",
     {"content": b'{"name"', "headers": {"content-type": "text/plain"}}),
    ("json-array-for-model", "POST", "/items", {"json": [1, 2]}),
    ("json-string-for-model", "POST", "/items", {"json": "x"}),
    ("json-null-for-model", "POST", "/items", {"content": b"null", "headers": JSON}),
    ("multiple", "PUT", "/items/3?q=z",
     {"json": {"item": OK, "user": {"username": "u"}, "importance": 5}}),
    ("multiple-missing", "PUT", "/items/3", {"json": {"item": OK}}),
    ("multiple-bad", "PUT", "/items/x",
     {"json": {"item": {"name": "a"}, "user": {}, "importance": 0}}),
    ("multiple-no-body", "PUT", "/items/3", {}),
    ("embed", "PUT", "/embed/1", {"json": {"item": OK}}),
    ("embed-not-embedded", "PUT", "/embed/1", {"json": OK}),
    ("optional-absent", "POST", "/optional", {}),
    ("optional", "POST", "/optional", {"json": OK}),
    ("optional-invalid", "POST", "/optional", {"json": {"name": "a"}}),
    ("dataclass", "POST", "/dataclass", {"json": {"name": "a", "price": 1}}),
    ("dataclass-invalid", "POST", "/dataclass", {"json": {"name": "a"}}),
    ("scalars", "POST", "/scalars", {"json": {"x": 1, "y": "abc"}}),
    ("scalars-bad", "POST", "/scalars", {"json": {"x": "q", "y": "a"}}),
    ("scalars-missing", "POST", "/scalars", {"json": {}}),
    ("scalar", "POST", "/scalar", {"json": 5}),
    ("scalar-object", "POST", "/scalar", {"json": {"x": 5}}),
    ("scalar-bad", "POST", "/scalar", {"json": "a"}),
    ("scalar-embed", "POST", "/scalar-embed", {"json": {"x": 5}}),
    ("scalar-embed-bare", "POST", "/scalar-embed", {"json": 5}),
    ("dict", "POST", "/dict", {"json": {"1": 2.5, "3": 4}}),
    ("dict-bad-key", "POST", "/dict", {"json": {"a": 2.5}}),
    ("list", "POST", "/list", {"json": [{"url": "http://a.com", "name": "n"}]}),
    ("list-bad", "POST", "/list", {"json": [{"url": "http://a.com"}, 3]}),
    ("any", "POST", "/any", {"json": {"a": [1, None]}}),
    ("any-missing", "POST", "/any", {}),
    ("bytes", "POST", "/bytes", {"json": "abc"}),
    ("extra-types", "POST", "/extra-types", {"json": {
        "d": "2020-01-01T00:00:00", "u": "12345678-1234-5678-1234-567812345678",
        "dec": "1.50", "td": 3600}}),
    ("extra-types-bad", "POST", "/extra-types", {"json": {"d": "x", "u": "y", "dec": "z",
                                                          "td": "w"}}),
    ("nested", "POST", "/nested", {"json": {"name": "o", "items": [OK]}}),
    ("nested-bad", "POST", "/nested",
     {"json": {"name": "o", "items": [{"name": 3}, OK, {"price": -1}]}}),
    ("get-on-post-route", "GET", "/items", {}),
    ("limit-ok", "POST", "/limited/echo", {"content": b"x" * 20}),
    ("limit-over", "POST", "/limited/echo", {"content": b"x" * 21}),
    ("limit-model-over", "POST", "/limited/model", {"json": {"username": "x" * 30}}),
    ("limit-model-ok", "POST", "/limited/model", {"json": {"username": "x"}}),
    ("limit-unread-body", "POST", "/limited/ignores-body", {"content": b"x" * 21}),
    ("limit-route-raises-app-limit", "POST", "/limited/large", {"content": b"x" * 100}),
    ("limit-route-over", "POST", "/limited/large", {"content": b"x" * 101}),
    ("route-limit-ok", "POST", "/route-limit", {"json": "abc"}),
    ("route-limit-over", "POST", "/route-limit", {"json": "abcdefgh"}),
    ("router-limit-ok", "POST", "/router-limit/echo", {"content": b"x" * 8}),
    ("router-limit-over", "POST", "/router-limit/echo", {"content": b"x" * 9}),
]  # fmt: skip

# BEGIN RECORDED (scripts/record_fastapi_expectations.py; fastapi 0.165.0, starlette 1.10.0)
EXPECTED: dict[str, Expected] = {
    "model": (
        200,
        "application/json",
        (b'{"name":"Foo","description":null,"price":3.5,"tax":null,"tags":[],"images":null}'),
    ),
    "model-sync": (
        200,
        "application/json",
        (
            b'{"name":"Foo","description":null,"price":3.5,"tax":null,"tags":['
            b'"a","b"],"images":null}'
        ),
    ),
    "model-missing-body": (
        422,
        "application/json",
        (b'{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}'),
    ),
    "model-empty-object": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field '
            b'required","input":{}},{"type":"missing","loc":["body","price"],"'
            b'msg":"Field required","input":{}}]}'
        ),
    ),
    "model-bad-types": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_type","loc":["body","name"],"msg":"In'
            b'put should be a valid string","input":1},{"type":"float_parsing"'
            b',"loc":["body","price"],"msg":"Input should be a valid number, u'
            b'nable to parse string as a number","input":"x"},{"type":"set_typ'
            b'e","loc":["body","tags"],"msg":"Input should be a valid set","in'
            b'put":3}]}'
        ),
    ),
    "model-constraint": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"greater_than","loc":["body","price"],"msg":"'
            b'Input should be greater than 0","input":0,"ctx":{"gt":0.0}}]}'
        ),
    ),
    "model-nested-invalid": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"url_parsing","loc":["body","images",0,"url"]'
            b',"msg":"Input should be a valid URL, relative URL without a base'
            b'","input":"nope","ctx":{"error":"relative URL without a base"}}]'
            b"}"
        ),
    ),
    "model-nested": (
        200,
        "application/json",
        (
            b'{"name":"Foo","description":null,"price":3.5,"tax":null,"tags":['
            b'],"images":[{"url":"http://example.com/a.png","name":"x"}]}'
        ),
    ),
    "malformed": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"json_invalid","loc":["body",14],"msg":"JSON '
            b'decode error","input":{},"ctx":{"error":"Expecting property name'
            b' enclosed in double quotes"}}]}'
        ),
    ),
    "malformed-trailing-data": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"json_invalid","loc":["body",14],"msg":"JSON '
            b'decode error","input":{},"ctx":{"error":"Extra data"}}]}'
        ),
    ),
    "malformed-utf8": (
        400,
        "application/json",
        b'{"detail":"There was an error parsing the body"}',
    ),
    "empty-body-json-type": (
        422,
        "application/json",
        (b'{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}'),
    ),
    "no-content-type": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":"{\\"name\\": \\"a\\", \\"price\\": 1}"}]}'
        ),
    ),
    "text-content-type": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":"{\\"name\\": \\"a\\", \\"price\\": 1}"}]}'
        ),
    ),
    "form-content-type": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":"name=a&price=1"}]}'
        ),
    ),
    "json-suffix-type": (
        200,
        "application/json",
        (b'{"name":"a","description":null,"price":1.0,"tax":null,"tags":[],"images":null}'),
    ),
    "json-charset": (
        200,
        "application/json",
        (b'{"name":"a","description":null,"price":1.0,"tax":null,"tags":[],"images":null}'),
    ),
    "loose-no-content-type": (
        200,
        "application/json",
        (b'{"name":"a","description":null,"price":1.0,"tax":null,"tags":[],"images":null}'),
    ),
    "loose-text-content-type": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":"{\\"name\\": \\"a\\", \\"price\\": 1}"}]}'
        ),
    ),
    "loose-malformed": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":"{\\"name\\""}]}'
        ),
    ),
    "json-array-for-model": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":[1,2]}]}'
        ),
    ),
    "json-string-for-model": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":"x"}]}'
        ),
    ),
    "json-null-for-model": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":'
            b'"Input should be a valid dictionary or object to extract fields '
            b'from","input":null}]}'
        ),
    ),
    "multiple": (
        200,
        "application/json",
        (
            b'{"item_id":3,"item":{"name":"Foo","description":null,"price":3.5'
            b',"tax":null,"tags":[],"images":null},"user":{"username":"u","ful'
            b'l_name":null},"importance":5,"q":"z"}'
        ),
    ),
    "multiple-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","user"],"msg":"Field '
            b'required","input":null},{"type":"missing","loc":["body","importa'
            b'nce"],"msg":"Field required","input":null}]}'
        ),
    ),
    "multiple-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["path","item_id"],"msg":'
            b'"Input should be a valid integer, unable to parse string as an i'
            b'nteger","input":"x"},{"type":"missing","loc":["body","item","pri'
            b'ce"],"msg":"Field required","input":{"name":"a"}},{"type":"missi'
            b'ng","loc":["body","user","username"],"msg":"Field required","inp'
            b'ut":{}},{"type":"greater_than","loc":["body","importance"],"msg"'
            b':"Input should be greater than 0","input":0,"ctx":{"gt":0}}]}'
        ),
    ),
    "multiple-no-body": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","item"],"msg":"Field '
            b'required","input":null},{"type":"missing","loc":["body","user"],'
            b'"msg":"Field required","input":null},{"type":"missing","loc":["b'
            b'ody","importance"],"msg":"Field required","input":null}]}'
        ),
    ),
    "embed": (
        200,
        "application/json",
        (
            b'{"item_id":1,"item":{"name":"Foo","description":null,"price":3.5'
            b',"tax":null,"tags":[],"images":null}}'
        ),
    ),
    "embed-not-embedded": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","item"],"msg":"Field '
            b'required","input":null}]}'
        ),
    ),
    "optional-absent": (200, "application/json", b'{"item":null}'),
    "optional": (
        200,
        "application/json",
        (
            b'{"item":{"name":"Foo","description":null,"price":3.5,"tax":null,'
            b'"tags":[],"images":null}}'
        ),
    ),
    "optional-invalid": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","price"],"msg":"Field'
            b' required","input":{"name":"a"}}]}'
        ),
    ),
    "dataclass": (200, "application/json", b'{"name":"a","price":1.0,"description":null}'),
    "dataclass-invalid": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","price"],"msg":"Field'
            b' required","input":{"name":"a"}}]}'
        ),
    ),
    "scalars": (200, "application/json", b'{"x":1,"y":"abc"}'),
    "scalars-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["body","x"],"msg":"Input'
            b" should be a valid integer, unable to parse string as an integer"
            b'","input":"q"},{"type":"string_too_short","loc":["body","y"],"ms'
            b'g":"String should have at least 2 characters","input":"a","ctx":'
            b'{"min_length":2}}]}'
        ),
    ),
    "scalars-missing": (
        422,
        "application/json",
        (b'{"detail":[{"type":"missing","loc":["body","x"],"msg":"Field required","input":null}]}'),
    ),
    "scalar": (200, "application/json", b'{"x":5}'),
    "scalar-object": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_type","loc":["body"],"msg":"Input should'
            b' be a valid integer","input":{"x":5}}]}'
        ),
    ),
    "scalar-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["body"],"msg":"Input sho'
            b'uld be a valid integer, unable to parse string as an integer","i'
            b'nput":"a"}]}'
        ),
    ),
    "scalar-embed": (200, "application/json", b'{"x":5}'),
    "scalar-embed-bare": (
        422,
        "application/json",
        (b'{"detail":[{"type":"missing","loc":["body","x"],"msg":"Field required","input":null}]}'),
    ),
    "dict": (200, "application/json", b'{"1":2.5,"3":4.0}'),
    "dict-bad-key": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["body","a","[key]"],"msg'
            b'":"Input should be a valid integer, unable to parse string as an'
            b' integer","input":"a"}]}'
        ),
    ),
    "list": (200, "application/json", b'[{"url":"http://a.com/","name":"n"}]'),
    "list-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body",0,"name"],"msg":"Fiel'
            b'd required","input":{"url":"http://a.com"}},{"type":"model_attri'
            b'butes_type","loc":["body",1],"msg":"Input should be a valid dict'
            b'ionary or object to extract fields from","input":3}]}'
        ),
    ),
    "any": (200, "application/json", b'{"payload":{"a":[1,null]}}'),
    "any-missing": (
        422,
        "application/json",
        (b'{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}'),
    ),
    "bytes": (200, "application/json", b'{"len":3}'),
    "extra-types": (
        200,
        "application/json",
        (
            b'{"d":"2020-01-01T00:00:00","u":"12345678-1234-5678-1234-56781234'
            b'5678","dec":1.5,"td":3600.0}'
        ),
    ),
    "extra-types-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"datetime_from_date_parsing","loc":["body","d'
            b'"],"msg":"Input should be a valid datetime or date, input is too'
            b' short","input":"x","ctx":{"error":"input is too short"}},{"type'
            b'":"uuid_parsing","loc":["body","u"],"msg":"Input should be a val'
            b'id UUID, invalid character: found `y` at 0","input":"y","ctx":{"'
            b'error":"invalid character: found `y` at 0"}},{"type":"decimal_pa'
            b'rsing","loc":["body","dec"],"msg":"Input should be a valid decim'
            b'al","input":"z"},{"type":"time_delta_parsing","loc":["body","td"'
            b'],"msg":"Input should be a valid timedelta, invalid digit in dur'
            b'ation","input":"w","ctx":{"error":"invalid digit in duration"}}]'
            b"}"
        ),
    ),
    "nested": (
        200,
        "application/json",
        (
            b'{"name":"o","items":[{"name":"Foo","description":null,"price":3.'
            b'5,"tax":null,"tags":[],"images":null}]}'
        ),
    ),
    "nested-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_type","loc":["body","items",0,"name"]'
            b',"msg":"Input should be a valid string","input":3},{"type":"miss'
            b'ing","loc":["body","items",0,"price"],"msg":"Field required","in'
            b'put":{"name":3}},{"type":"missing","loc":["body","items",2,"name'
            b'"],"msg":"Field required","input":{"price":-1}},{"type":"greater'
            b'_than","loc":["body","items",2,"price"],"msg":"Input should be g'
            b'reater than 0","input":-1,"ctx":{"gt":0.0}}]}'
        ),
    ),
    "get-on-post-route": (405, "application/json", b'{"detail":"Method Not Allowed"}'),
    "limit-ok": (200, "application/json", b'{"len":20}'),
    "limit-over": (413, "text/plain; charset=utf-8", b"Content Too Large"),
    "limit-model-over": (413, "text/plain; charset=utf-8", b"Content Too Large"),
    "limit-model-ok": (200, "application/json", b'{"username":"x","full_name":null}'),
    "limit-unread-body": (413, "text/plain; charset=utf-8", b"Content Too Large"),
    "limit-route-raises-app-limit": (200, "application/json", b'{"len":100}'),
    "limit-route-over": (413, "text/plain; charset=utf-8", b"Content Too Large"),
    "route-limit-ok": (200, "application/json", b'{"x":"abc"}'),
    "route-limit-over": (413, "text/plain; charset=utf-8", b"Content Too Large"),
    "router-limit-ok": (200, "application/json", b'{"len":8}'),
    "router-limit-over": (413, "text/plain; charset=utf-8", b"Content Too Large"),
}
# END RECORDED


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app)


@pytest.mark.parametrize("request_", REQUESTS, ids=ids(REQUESTS))
def test_answers_as_fastapi_does(client: TestClient, request_: Req) -> None:
    check(client, request_, EXPECTED)


def test_every_request_was_recorded() -> None:
    assert sorted(EXPECTED) == sorted(ids(REQUESTS))


# -- what the endpoint received ------------------------------------------------------------


def test_model_instance(client: TestClient) -> None:
    response = client.post("/items", json={**OK, "tags": ["a", "a"], "tax": 1})
    assert response.status_code == 200
    assert SEEN["item"] == Item(name="Foo", price=3.5, tags={"a"}, tax=1.0)


def test_dataclass_instance(client: TestClient) -> None:
    assert client.post("/dataclass", json={"name": "d", "price": "2"}).status_code == 200
    assert SEEN["dataclass"] == DataItem(name="d", price=2.0)


def test_extra_types_instances(client: TestClient) -> None:
    payload = {
        "d": "2020-01-01T00:00:00",
        "u": "12345678-1234-5678-1234-567812345678",
        "dec": "1.50",
        "td": 3600,
    }
    assert client.post("/extra-types", json=payload).status_code == 200
    assert SEEN["extra"] == (
        datetime.datetime(2020, 1, 1),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        decimal.Decimal("1.50"),
        datetime.timedelta(hours=1),
    )


def test_malformed_json_is_a_422_json_invalid(client: TestClient) -> None:
    response = client.post("/items", content=b'{"name": ', headers=JSON)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body", 9],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting value"},
            }
        ]
    }


def test_strict_content_type_refuses_json_without_json_type(client: TestClient) -> None:
    detail = client.post("/items", content=BODY.encode()).json()["detail"]
    assert [(d["type"], d["loc"], d["input"]) for d in detail] == [
        ("model_attributes_type", ["body"], BODY)
    ]
    # strict_content_type=False: a body with no content type is parsed as JSON.
    response = client.post("/loose/items", content=BODY.encode())
    assert response.status_code == 200
    assert response.json()["name"] == "a"


def _chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def test_body_limit_counts_chunked_bodies(client: TestClient) -> None:
    # No Content-Length: the limit is enforced while reading; the 413 goes through
    # the app's HTTPException handler.
    response = client.post("/limited/echo", content=_chunks(b"x" * 15, b"x" * 15))
    assert response.status_code == 413
    assert response.json() == {"detail": "Content Too Large"}
    response = client.post("/limited/echo", content=_chunks(b"x" * 10, b"x" * 10))
    assert response.json() == {"len": 20}
    # A route's own limit replaces the application's.
    response = client.post("/limited/large", content=_chunks(b"x" * 60, b"x" * 30))
    assert response.json() == {"len": 90}


def test_declared_length_over_the_limit_is_refused_before_reading(client: TestClient) -> None:
    response = client.post("/limited/echo", content=b"y" * 1000)
    assert response.status_code == 413
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Content Too Large"


def test_invalid_max_body_size_is_refused() -> None:
    with pytest.raises(ValueError, match="max_body_size must be a non-negative integer"):
        APIRouter(max_body_size=-1)
    other = FastAPI()
    with pytest.raises(ValueError, match="max_body_size must be a non-negative integer"):

        @other.post("/x", max_body_size=True)  # type: ignore[arg-type]
        def endpoint() -> None: ...


class _ReadBody(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):  # type: ignore[no-untyped-def]
        from aster.responses import PlainTextResponse

        body = await request.body()
        return PlainTextResponse(f"middleware read {len(body)} bytes")


def test_app_body_limit_also_covers_user_middleware() -> None:
    guarded = FastAPI(max_body_size=10)
    guarded.add_middleware(_ReadBody)

    @guarded.post("/")
    async def endpoint() -> dict[str, bool]:
        return {"ok": True}

    response = TestClient(guarded).post("/", content=b"x" * 20)
    assert (response.status_code, response.text) == (413, "Content Too Large")


@pytest.mark.parametrize("read_in_parent", [True, False])
def test_a_mounted_app_whose_middleware_reads_past_a_limit_answers_413(
    read_in_parent: bool,
) -> None:
    """The parent counts the body; past a limit, a body-limit error raised in the child's
    own middleware is the child's 413 (its HTTPException handler), not its 500."""
    parent = FastAPI(max_body_size=10 if read_in_parent else 5)
    child = FastAPI(max_body_size=5 if read_in_parent else None)

    @child.post("/")
    async def echo(request: Request) -> dict[str, int]:
        return {"len": len(await request.body())}

    parent.mount("/child", child)

    @(parent if read_in_parent else child).middleware("http")
    async def read_body(request, call_next):  # type: ignore[no-untyped-def]
        await request.body()
        return await call_next(request)

    client = TestClient(parent, raise_server_exceptions=False)
    response = client.post("/child/", content=_chunks(b"123", b"456"))
    assert (response.status_code, response.json()) == (413, {"detail": "Content Too Large"})
    response = client.post("/child/", content=_chunks(b"12345"))
    assert (response.status_code, response.json()) == (200, {"len": 5})
