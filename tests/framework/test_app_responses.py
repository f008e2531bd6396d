"""What path operations send: response_model, response_class, status codes, injected Response.

``REQUESTS`` are answered byte for byte as FastAPI 0.165 answers them (``EXPECTED``
was recorded from it: see tests/framework/recorded.py); headers are checked below.
"""

# Optional[...] and Union[...] on purpose: FastAPI apps are written that way.
# ruff: noqa: UP007, UP045

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any, Optional, Union

import pytest
from pydantic import BaseModel, ConfigDict, Field, computed_field

from aster import FastAPI, Response, status
from aster.encoders import jsonable_encoder
from aster.exceptions import ResponseValidationError
from aster.responses import (
    HTMLResponse,
    JSONResponse,
    ORJSONResponse,
    PlainTextResponse,
    RedirectResponse,
    StreamingResponse,
)
from aster.testclient import TestClient

from .recorded import Expected, Request, check, ids

app = FastAPI()


class ItemIn(BaseModel):
    name: str
    password: str
    price: float = 1.0
    tags: list[str] = []
    desc: Optional[str] = None


class ItemOut(BaseModel):
    name: str
    price: float = 1.0
    tags: list[str] = []
    desc: Optional[str] = None


class Aliased(BaseModel):
    item_name: str = Field(alias="itemName")
    value: int = 0


class Computed(BaseModel):
    a: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def double(self) -> int:
        return self.a * 2


@dataclasses.dataclass
class DataOut:
    x: int
    y: str = "d"


class Record:
    def __init__(self) -> None:
        self.a = 5
        self.secret = "hidden"


class FromRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    a: int


class Inner(BaseModel):
    n: int = 0
    m: Optional[str] = None


class Outer(BaseModel):
    inner: Inner = Inner()
    other: int = 1


@app.get("/filter", response_model=ItemOut)
async def filtered():
    return {"name": "a", "password": "secret", "price": 2}


@app.get("/filter-object", response_model=ItemOut)
async def filtered_object():
    return ItemIn(name="a", password="s")


@app.get("/return-annotation")
async def return_annotation() -> ItemOut:
    return ItemIn(name="a", password="s")  # type: ignore[return-value]


@app.get("/exclude-unset", response_model=ItemOut, response_model_exclude_unset=True)
async def exclude_unset():
    return ItemOut(name="a", tags=[])


@app.get("/exclude-unset-dict", response_model=ItemOut, response_model_exclude_unset=True)
async def exclude_unset_dict():
    return {"name": "a"}


@app.get("/exclude-unset-nested", response_model=Outer, response_model_exclude_unset=True)
async def exclude_unset_nested():
    return Outer(inner=Inner(n=2))


@app.get("/exclude-defaults", response_model=ItemOut, response_model_exclude_defaults=True)
async def exclude_defaults():
    return {"name": "a", "price": 1.0, "desc": "d"}


@app.get("/exclude-none", response_model=ItemOut, response_model_exclude_none=True)
async def exclude_none():
    return {"name": "a"}


@app.get("/include", response_model=ItemOut, response_model_include={"name", "price"})
async def include():
    return {"name": "a", "price": 3}


@app.get("/exclude", response_model=ItemOut, response_model_exclude={"tags"})
async def exclude():
    return {"name": "a", "price": 3}


@app.get("/by-alias", response_model=Aliased)
async def by_alias():
    return {"itemName": "x", "value": 2}


@app.get("/not-by-alias", response_model=Aliased, response_model_by_alias=False)
async def not_by_alias():
    return {"itemName": "x", "value": 2}


@app.get("/list", response_model=list[ItemOut])
async def list_model():
    return [{"name": "a", "password": "p"}, {"name": "b"}]


@app.get("/union", response_model=Union[ItemOut, Aliased])
async def union_model():
    return {"itemName": "z"}


@app.get("/computed", response_model=Computed)
async def computed():
    return {"a": 2}


@app.get("/dataclass", response_model=DataOut)
async def dataclass_model():
    return {"x": 1, "z": 3}


@app.get("/from-attributes", response_model=FromRecord)
async def from_attributes():
    return Record()


@app.get("/invalid", response_model=ItemOut)
async def invalid():
    return {"price": "abc"}


@app.get("/invalid-annotation")
async def invalid_annotation() -> dict[str, int]:
    return {"a": "x"}  # type: ignore[dict-item]


@app.get("/no-model", response_model=None)
async def no_model() -> Response:
    return PlainTextResponse("plain")


@app.get("/response-annotation")
async def response_annotation() -> Response:
    return PlainTextResponse("p")


@app.get("/html", response_class=HTMLResponse)
async def html():
    return "<h1>hi</h1>"


@app.get("/plain", response_class=PlainTextResponse)
async def plain():
    return "hi"


@app.get("/orjson", response_class=ORJSONResponse)
async def orjson_response():
    return {"a": datetime.date(2020, 1, 1)}


@app.post("/created", status_code=201)
async def created():
    return {"ok": True}


@app.post("/created-model", status_code=status.HTTP_201_CREATED, response_model=ItemOut)
async def created_model():
    return {"name": "x", "password": "p"}


@app.delete("/no-content", status_code=204)
async def no_content():
    return None


@app.delete("/no-content-class", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def no_content_class():
    pass


@app.get("/not-modified", status_code=304)
async def not_modified():
    return None


@app.get("/inject")
async def inject(response: Response):
    response.headers["X-Cat"] = "meow"
    response.set_cookie("fakesession", "fake-cookie-value", httponly=True)
    response.status_code = 202
    return {"ok": 1}


@app.get("/inject-status-only")
async def inject_status_only(response: Response, fail: bool = False):
    if fail:
        response.status_code = status.HTTP_400_BAD_REQUEST
    return {"failed": fail}


@app.get("/direct")
async def direct():
    response = JSONResponse({"direct": True}, status_code=418, headers={"X-A": "b"})
    response.set_cookie("c", "v", samesite="strict", secure=True, path="/p", domain="example.com")
    return response


@app.get("/direct-ignores-model", response_model=ItemOut)
async def direct_ignores_model():
    return JSONResponse({"password": "leak"})


@app.get("/direct-status-wins", status_code=201)
async def direct_status_wins(response: Response):
    response.headers["X-Lost"] = "1"
    return JSONResponse({"x": 1})


@app.get("/redirect")
async def redirect():
    return RedirectResponse("/plain")


@app.get("/redirect-class", response_class=RedirectResponse, status_code=301)
async def redirect_class():
    return "/plain"


@app.get("/stream")
async def stream():
    async def chunks():
        for i in range(3):
            yield f"chunk{i}\n"

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/encoder")
async def encoder():
    return jsonable_encoder(
        {"d": datetime.datetime(2020, 1, 2, 3, 4, 5), "s": {1}, "b": b"x", "m": ItemOut(name="q")}
    )


@app.get("/model-without-response-model")
async def model_without_response_model():
    return ItemIn(name="a", password="x")


@app.get("/datetimes")
async def datetimes():
    return {"d": datetime.datetime(2020, 1, 2), "t": datetime.timedelta(seconds=90),
            "set": frozenset([1])}  # fmt: skip


@app.get("/str")
async def string():
    return "hello"


@app.get("/none")
async def none():
    return None


@app.get("/unicode")
async def unicode():
    return {"s": "héllo ☃", "f": 1.0, "big": 10**20}


@app.get("/optional-model", status_code=201, response_model=Optional[Computed])
async def optional_model():
    return None


@app.head("/head")
async def head():
    return {"a": 1}


@app.get("/get")
async def get():
    return {"a": 1}


REQUESTS: list[Request] = [
    *[(path.strip("/"), "GET", path, {}) for path in [
        "/filter", "/filter-object", "/return-annotation", "/exclude-unset",
        "/exclude-unset-dict", "/exclude-unset-nested", "/exclude-defaults", "/exclude-none",
        "/include", "/exclude", "/by-alias", "/not-by-alias", "/list", "/union", "/computed",
        "/dataclass", "/from-attributes", "/invalid", "/invalid-annotation", "/no-model",
        "/response-annotation", "/html", "/plain", "/orjson", "/inject",
        "/inject-status-only", "/direct", "/direct-ignores-model", "/direct-status-wins",
        "/stream", "/encoder", "/model-without-response-model", "/datetimes", "/str", "/none",
        "/unicode", "/optional-model", "/get",
    ]],
    ("inject-status-changed", "GET", "/inject-status-only?fail=true", {}),
    ("created", "POST", "/created", {}),
    ("created-model", "POST", "/created-model", {}),
    ("no-content", "DELETE", "/no-content", {}),
    ("no-content-class", "DELETE", "/no-content-class", {}),
    ("not-modified", "GET", "/not-modified", {}),
    ("redirect-followed", "GET", "/redirect", {}),
    ("redirect", "GET", "/redirect", {"follow_redirects": False}),
    ("redirect-class", "GET", "/redirect-class", {"follow_redirects": False}),
    ("head", "HEAD", "/head", {}),
    ("head-of-get", "HEAD", "/get", {}),
    ("get-of-head", "GET", "/head", {}),
]  # fmt: skip

# BEGIN RECORDED (scripts/record_fastapi_expectations.py; fastapi 0.165.0, starlette 1.10.0)
EXPECTED: dict[str, Expected] = {
    "filter": (200, "application/json", b'{"name":"a","price":2.0,"tags":[],"desc":null}'),
    "filter-object": (200, "application/json", b'{"name":"a","price":1.0,"tags":[],"desc":null}'),
    "return-annotation": (
        200,
        "application/json",
        b'{"name":"a","price":1.0,"tags":[],"desc":null}',
    ),
    "exclude-unset": (200, "application/json", b'{"name":"a","tags":[]}'),
    "exclude-unset-dict": (200, "application/json", b'{"name":"a"}'),
    "exclude-unset-nested": (200, "application/json", b'{"inner":{"n":2}}'),
    "exclude-defaults": (200, "application/json", b'{"name":"a","desc":"d"}'),
    "exclude-none": (200, "application/json", b'{"name":"a","price":1.0,"tags":[]}'),
    "include": (200, "application/json", b'{"name":"a","price":3.0}'),
    "exclude": (200, "application/json", b'{"name":"a","price":3.0,"desc":null}'),
    "by-alias": (200, "application/json", b'{"itemName":"x","value":2}'),
    "not-by-alias": (200, "application/json", b'{"item_name":"x","value":2}'),
    "list": (
        200,
        "application/json",
        (
            b'[{"name":"a","price":1.0,"tags":[],"desc":null},{"name":"b","pri'
            b'ce":1.0,"tags":[],"desc":null}]'
        ),
    ),
    "union": (200, "application/json", b'{"itemName":"z","value":0}'),
    "computed": (200, "application/json", b'{"a":2,"double":4}'),
    "dataclass": (200, "application/json", b'{"x":1,"y":"d"}'),
    "from-attributes": (200, "application/json", b'{"a":5}'),
    "invalid": (500, "text/plain; charset=utf-8", b"Internal Server Error"),
    "invalid-annotation": (500, "text/plain; charset=utf-8", b"Internal Server Error"),
    "no-model": (200, "text/plain; charset=utf-8", b"plain"),
    "response-annotation": (200, "text/plain; charset=utf-8", b"p"),
    "html": (200, "text/html; charset=utf-8", b"<h1>hi</h1>"),
    "plain": (200, "text/plain; charset=utf-8", b"hi"),
    "orjson": (200, "application/json", b'{"a":"2020-01-01"}'),
    "inject": (202, "application/json", b'{"ok":1}'),
    "inject-status-only": (200, "application/json", b'{"failed":false}'),
    "direct": (418, "application/json", b'{"direct":true}'),
    "direct-ignores-model": (200, "application/json", b'{"password":"leak"}'),
    "direct-status-wins": (200, "application/json", b'{"x":1}'),
    "stream": (200, "text/plain; charset=utf-8", b"chunk0\nchunk1\nchunk2\n"),
    "encoder": (
        200,
        "application/json",
        (
            b'{"d":"2020-01-02T03:04:05","s":[1],"b":"x","m":{"name":"q","pric'
            b'e":1.0,"tags":[],"desc":null}}'
        ),
    ),
    "model-without-response-model": (
        200,
        "application/json",
        b'{"name":"a","password":"x","price":1.0,"tags":[],"desc":null}',
    ),
    "datetimes": (200, "application/json", b'{"d":"2020-01-02T00:00:00","t":90.0,"set":[1]}'),
    "str": (200, "application/json", b'"hello"'),
    "none": (200, "application/json", b"null"),
    "unicode": (
        200,
        "application/json",
        b'{"s":"h\xc3\xa9llo \xe2\x98\x83","f":1.0,"big":100000000000000000000}',
    ),
    "optional-model": (201, "application/json", b"null"),
    "get": (200, "application/json", b'{"a":1}'),
    "inject-status-changed": (400, "application/json", b'{"failed":true}'),
    "created": (201, "application/json", b'{"ok":true}'),
    "created-model": (201, "application/json", b'{"name":"x","price":1.0,"tags":[],"desc":null}'),
    "no-content": (204, "application/json", b""),
    "no-content-class": (204, None, b""),
    "not-modified": (304, "application/json", b""),
    "redirect-followed": (200, "text/plain; charset=utf-8", b"hi"),
    "redirect": (307, None, b""),
    "redirect-class": (301, None, b""),
    "head": (200, "application/json", b""),
    "head-of-get": (405, "application/json", b""),
    "get-of-head": (405, "application/json", b'{"detail":"Method Not Allowed"}'),
}
# END RECORDED


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


pytestmark = pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated")


@pytest.mark.parametrize("request_", REQUESTS, ids=ids(REQUESTS))
def test_answers_as_fastapi_does(client: TestClient, request_: Request) -> None:
    check(client, request_, EXPECTED)


def test_every_request_was_recorded() -> None:
    assert sorted(EXPECTED) == sorted(ids(REQUESTS))


# -- headers ---------------------------------------------------------------------------------


def test_injected_response_headers_cookies_and_status(client: TestClient) -> None:
    response = client.get("/inject")
    assert response.status_code == 202
    assert response.headers.multi_items() == [
        ("content-length", "8"),
        ("content-type", "application/json"),
        ("x-cat", "meow"),
        ("set-cookie", "fakesession=fake-cookie-value; HttpOnly; Path=/; SameSite=lax"),
    ]


def test_deleted_cookie(client: TestClient) -> None:
    other = FastAPI()

    @other.get("/")
    async def endpoint(response: Response) -> dict[str, Any]:
        response.delete_cookie("gone")
        return {}

    cookie = TestClient(other).get("/").headers["set-cookie"]
    assert re.fullmatch(
        r'gone=""; expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; Max-Age=0; Path=/;'
        r" SameSite=lax",
        cookie,
    ), cookie


def test_returned_response_is_sent_as_is(client: TestClient) -> None:
    response = client.get("/direct")
    assert response.status_code == 418
    assert response.headers.multi_items() == [
        ("x-a", "b"),
        ("content-length", "15"),
        ("content-type", "application/json"),
        ("set-cookie", "c=v; Domain=example.com; Path=/p; SameSite=strict; Secure"),
    ]
    # Headers set on the injected Response are not merged into a returned one.
    response = client.get("/direct-status-wins")
    assert response.status_code == 200
    assert "x-lost" not in response.headers


def test_no_content_has_no_body_and_no_length(client: TestClient) -> None:
    for method, url, code in [
        ("DELETE", "/no-content", 204),
        ("DELETE", "/no-content-class", 204),
        ("GET", "/not-modified", 304),
    ]:
        response = client.request(method, url)
        assert (response.status_code, response.content) == (code, b"")
        assert "content-length" not in response.headers
    # The default response class still names its media type, as FastAPI's does.
    assert client.delete("/no-content").headers["content-type"] == "application/json"
    assert "content-type" not in client.delete("/no-content-class").headers


def test_head_sends_headers_without_body(client: TestClient) -> None:
    response = client.head("/head")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "7"
    # Unlike Starlette's Route, an APIRoute for GET does not answer HEAD.
    response = client.head("/get")
    assert (response.status_code, response.headers["allow"]) == (405, "GET")


def test_redirect_headers(client: TestClient) -> None:
    response = client.get("/redirect", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/plain")
    response = client.get("/redirect-class", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (301, "/plain")


def test_response_classes_set_content_types(client: TestClient) -> None:
    assert client.get("/html").headers["content-type"] == "text/html; charset=utf-8"
    assert client.get("/plain").headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/stream").headers["content-type"] == "text/plain; charset=utf-8"
    assert "content-length" not in client.get("/stream").headers
    assert client.get("/stream").text == "chunk0\nchunk1\nchunk2\n"


def test_response_validation_error_is_a_500() -> None:
    strict_client = TestClient(app)
    with pytest.raises(ResponseValidationError) as info:
        strict_client.get("/invalid")
    assert info.value.errors() == [
        {"type": "missing", "loc": ("response", "name"), "msg": "Field required",
         "input": {"price": "abc"}},
        {"type": "float_parsing", "loc": ("response", "price"),
         "msg": "Input should be a valid number, unable to parse string as a number",
         "input": "abc"},
    ]  # fmt: skip
    response = TestClient(app, raise_server_exceptions=False).get("/invalid")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
