"""Errors: 422 bodies, HTTPException, exception handlers, 404/405, 500s and the debug page.

``REQUESTS`` are answered byte for byte as FastAPI 0.165 answers them (``EXPECTED``
was recorded from it: see tests/framework/recorded.py).
"""

# Optional[...] and Union[...] on purpose: FastAPI apps are written that way.
# ruff: noqa: UP045

from __future__ import annotations

from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel, Field

from aster import Body, FastAPI, Header, HTTPException, Path, Query, Request
from aster.encoders import jsonable_encoder
from aster.exceptions import (
    RequestValidationError,
    ResponseValidationError,
    StarletteHTTPException,
)
from aster.responses import JSONResponse, PlainTextResponse
from aster.testclient import TestClient

from .recorded import Expected, check, ids
from .recorded import Request as Req

app = FastAPI()


class UnicornException(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


@app.exception_handler(UnicornException)
async def unicorn_handler(request: Request, exc: UnicornException) -> JSONResponse:
    return JSONResponse(status_code=418, content={"message": f"Oops! {exc.name} did something."})


class Item(BaseModel):
    title: str = Field(min_length=2)
    size: int
    tags: list[str] = []


class Wrapper(BaseModel):
    item: Item
    count: Optional[int] = None


@app.get("/unicorns/{name}")
async def unicorns(name: str):
    if name == "yolo":
        raise UnicornException(name=name)
    return {"name": name}


@app.get("/http/{code}")
async def http_error(code: int):
    raise HTTPException(
        status_code=code,
        detail={"msg": "custom", "code": code},
        headers={"X-Error": "There goes my error"},
    )


@app.get("/http-default-detail")
async def http_default_detail():
    raise HTTPException(status_code=404)


@app.get("/http-string")
def http_string():
    raise HTTPException(status_code=400, detail="Bad thing")


@app.get("/http-304")
def http_304():
    raise HTTPException(status_code=304)


@app.get("/http-204")
def http_204():
    raise HTTPException(status_code=204)


@app.get("/starlette-http")
def starlette_http():
    raise StarletteHTTPException(status_code=409, detail="conflict")


@app.get("/invalid-response", response_model=Item)
def invalid_response():
    return {"title": 1}


@app.post("/validate/{pid}")
def validate(
    pid: Annotated[int, Path(ge=1)],
    wrapper: Wrapper,
    q: Annotated[list[int], Query()] = [],  # noqa: B006 (the FastAPI idiom)
    x_limit: Annotated[int, Header(lt=10)] = 1,
    note: Annotated[str, Body(max_length=3)] = "",
):
    return {"pid": pid}


@app.get("/query")
def query(a: int, b: Annotated[str, Query(min_length=3)]):
    return {}


@app.get("/boom")
def boom():
    raise RuntimeError("boom")


@app.get("/items/{item_id}")
def get_item(item_id: int):
    return {"item_id": item_id}


@app.post("/items/{item_id}")
def post_item(item_id: int):
    return {"item_id": item_id}


@app.api_route("/multi", methods=["GET", "POST", "PATCH"])
def multi(request: Request):
    return {"method": request.method}


# An app whose handlers override the defaults for validation errors and HTTP errors.
custom = FastAPI()
app.mount("/custom", custom)


@custom.exception_handler(RequestValidationError)
async def validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(
        status_code=400, content=jsonable_encoder({"detail": exc.errors(), "body": exc.body})
    )


@custom.exception_handler(StarletteHTTPException)
async def http_handler(request: Request, exc: StarletteHTTPException) -> PlainTextResponse:
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


@custom.post("/items")
async def custom_items(item: Item):
    return item


@custom.get("/query")
async def custom_query(n: int):
    return {"n": n}


@custom.get("/teapot")
async def teapot():
    raise HTTPException(status_code=418, detail="Nope! I don't like 3.", headers={"X-T": "1"})


# Handlers keyed by status code.
by_status = FastAPI()
app.mount("/by-status", by_status)


@by_status.exception_handler(404)
async def not_found(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"custom404": True, "path": request.url.path}, status_code=404)


@by_status.exception_handler(405)
async def not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"custom405": True}, status_code=405, headers=exc.headers)


@by_status.exception_handler(ResponseValidationError)
async def response_validation(request: Request, exc: ResponseValidationError) -> JSONResponse:
    return JSONResponse({"errors": jsonable_encoder(exc.errors())}, status_code=500)


@by_status.get("/x")
def by_status_x():
    return {}


@by_status.get("/raise404")
def by_status_raise404():
    raise HTTPException(404, "inner")


@by_status.get("/invalid-response", response_model=Item)
def by_status_invalid_response():
    return {"size": "y"}


# Handlers for Exception (500) and for a builtin exception class.
generic = FastAPI()
app.mount("/generic", generic)


@generic.exception_handler(Exception)
async def any_exception(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"generic": str(exc)}, status_code=500)


@generic.exception_handler(ValueError)
async def value_error(request: Request, exc: ValueError) -> JSONResponse:
    return JSONResponse({"value": str(exc)}, status_code=400)


@generic.get("/value")
def generic_value():
    raise ValueError("bad value")


@generic.get("/runtime")
def generic_runtime():
    raise RuntimeError("rt")


REQUESTS: list[Req] = [
    ("custom-exception", "GET", "/unicorns/yolo", {}),
    ("custom-exception-not-raised", "GET", "/unicorns/x", {}),
    ("http-418-dict-detail", "GET", "/http/418", {}),
    ("http-404-dict-detail", "GET", "/http/404", {}),
    ("http-default-detail", "GET", "/http-default-detail", {}),
    ("http-string-detail", "GET", "/http-string", {}),
    ("http-304-no-body", "GET", "/http-304", {}),
    ("http-204-no-body", "GET", "/http-204", {}),
    ("starlette-http", "GET", "/starlette-http", {}),
    ("invalid-response", "GET", "/invalid-response", {}),
    ("validate-ok", "POST", "/validate/1",
     {"json": {"wrapper": {"item": {"title": "ab", "size": 1}}}}),
    ("validate-everything-wrong", "POST", "/validate/0?q=1&q=x",
     {"json": {"wrapper": {"item": {"title": "a", "size": "big", "tags": [1, None]},
                           "count": "many"}, "note": "long"},
      "headers": {"x-limit": "10"}}),
    ("validate-missing-body", "POST", "/validate/2", {}),
    ("validate-body-not-object", "POST", "/validate/2", {"json": [1]}),
    ("validate-nested-missing", "POST", "/validate/2", {"json": {"wrapper": {}}}),
    ("validate-malformed", "POST", "/validate/2",
     {"content": b'{"wrapper": [', "headers": {"content-type": "application/json"}}),
    ("query-missing", "GET", "/query", {}),
    ("query-bad", "GET", "/query?a=1.5&b=ab", {}),
    ("not-found", "GET", "/nope", {}),
    ("method-not-allowed", "DELETE", "/items/3", {}),
    ("method-not-allowed-multi", "PUT", "/multi", {}),
    ("multi-methods", "PATCH", "/multi", {}),
    ("custom-validation-handler", "POST", "/custom/items", {"json": {"title": "y", "z": 1}}),
    ("custom-validation-malformed", "POST", "/custom/items",
     {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("custom-validation-query", "GET", "/custom/query?n=z", {}),
    ("custom-http-handler", "GET", "/custom/teapot", {}),
    ("custom-http-handler-404", "GET", "/custom/nope", {}),
    ("custom-http-handler-405", "POST", "/custom/query", {}),
    ("status-handler-404", "GET", "/by-status/nope", {}),
    ("status-handler-405", "POST", "/by-status/x", {}),
    ("status-handler-raised-404", "GET", "/by-status/raise404", {}),
    ("response-validation-handler", "GET", "/by-status/invalid-response", {}),
    ("exception-handler-subclass", "GET", "/generic/value", {}),
    ("exception-handler-500", "GET", "/generic/runtime", {}),
    ("unhandled-500", "GET", "/boom", {}),
]  # fmt: skip

# BEGIN RECORDED (scripts/record_fastapi_expectations.py; fastapi 0.165.0, starlette 1.10.0)
EXPECTED: dict[str, Expected] = {
    "custom-exception": (418, "application/json", b'{"message":"Oops! yolo did something."}'),
    "custom-exception-not-raised": (200, "application/json", b'{"name":"x"}'),
    "http-418-dict-detail": (418, "application/json", b'{"detail":{"msg":"custom","code":418}}'),
    "http-404-dict-detail": (404, "application/json", b'{"detail":{"msg":"custom","code":404}}'),
    "http-default-detail": (404, "application/json", b'{"detail":"Not Found"}'),
    "http-string-detail": (400, "application/json", b'{"detail":"Bad thing"}'),
    "http-304-no-body": (304, None, b""),
    "http-204-no-body": (204, None, b""),
    "starlette-http": (409, "application/json", b'{"detail":"conflict"}'),
    "invalid-response": (500, "text/plain; charset=utf-8", b"Internal Server Error"),
    "validate-ok": (200, "application/json", b'{"pid":1}'),
    "validate-everything-wrong": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"greater_than_equal","loc":["path","pid"],"ms'
            b'g":"Input should be greater than or equal to 1","input":"0","ctx'
            b'":{"ge":1}},{"type":"int_parsing","loc":["query","q",1],"msg":"I'
            b"nput should be a valid integer, unable to parse string as an int"
            b'eger","input":"x"},{"type":"less_than","loc":["header","x-limit"'
            b'],"msg":"Input should be less than 10","input":"10","ctx":{"lt":'
            b'10}},{"type":"string_too_short","loc":["body","wrapper","item","'
            b'title"],"msg":"String should have at least 2 characters","input"'
            b':"a","ctx":{"min_length":2}},{"type":"int_parsing","loc":["body"'
            b',"wrapper","item","size"],"msg":"Input should be a valid integer'
            b', unable to parse string as an integer","input":"big"},{"type":"'
            b'string_type","loc":["body","wrapper","item","tags",0],"msg":"Inp'
            b'ut should be a valid string","input":1},{"type":"string_type","l'
            b'oc":["body","wrapper","item","tags",1],"msg":"Input should be a '
            b'valid string","input":null},{"type":"int_parsing","loc":["body",'
            b'"wrapper","count"],"msg":"Input should be a valid integer, unabl'
            b'e to parse string as an integer","input":"many"},{"type":"string'
            b'_too_long","loc":["body","note"],"msg":"String should have at mo'
            b'st 3 characters","input":"long","ctx":{"max_length":3}}]}'
        ),
    ),
    "validate-missing-body": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","wrapper"],"msg":"Fie'
            b'ld required","input":null}]}'
        ),
    ),
    "validate-body-not-object": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","wrapper"],"msg":"Fie'
            b'ld required","input":null},{"type":"missing","loc":["body","note'
            b'"],"msg":"Field required","input":null}]}'
        ),
    ),
    "validate-nested-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","wrapper","item"],"ms'
            b'g":"Field required","input":{}}]}'
        ),
    ),
    "validate-malformed": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"json_invalid","loc":["body",13],"msg":"JSON '
            b'decode error","input":{},"ctx":{"error":"Expecting value"}}]}'
        ),
    ),
    "query-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["query","a"],"msg":"Field re'
            b'quired","input":null},{"type":"missing","loc":["query","b"],"msg'
            b'":"Field required","input":null}]}'
        ),
    ),
    "query-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","a"],"msg":"Inpu'
            b"t should be a valid integer, unable to parse string as an intege"
            b'r","input":"1.5"},{"type":"string_too_short","loc":["query","b"]'
            b',"msg":"String should have at least 3 characters","input":"ab","'
            b'ctx":{"min_length":3}}]}'
        ),
    ),
    "not-found": (404, "application/json", b'{"detail":"Not Found"}'),
    "method-not-allowed": (405, "application/json", b'{"detail":"Method Not Allowed"}'),
    "method-not-allowed-multi": (405, "application/json", b'{"detail":"Method Not Allowed"}'),
    "multi-methods": (200, "application/json", b'{"method":"PATCH"}'),
    "custom-validation-handler": (
        400,
        "application/json",
        (
            b'{"detail":[{"type":"string_too_short","loc":["body","title"],"ms'
            b'g":"String should have at least 2 characters","input":"y","ctx":'
            b'{"min_length":2}},{"type":"missing","loc":["body","size"],"msg":'
            b'"Field required","input":{"title":"y","z":1}}],"body":{"title":"'
            b'y","z":1}}'
        ),
    ),
    "custom-validation-malformed": (
        400,
        "application/json",
        (
            b'{"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON d'
            b'ecode error","input":{},"ctx":{"error":"Expecting property name '
            b'enclosed in double quotes"}}],"body":"{"}'
        ),
    ),
    "custom-validation-query": (
        400,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","n"],"msg":"Inpu'
            b"t should be a valid integer, unable to parse string as an intege"
            b'r","input":"z"}],"body":null}'
        ),
    ),
    "custom-http-handler": (418, "text/plain; charset=utf-8", b"Nope! I don't like 3."),
    "custom-http-handler-404": (404, "text/plain; charset=utf-8", b"Not Found"),
    "custom-http-handler-405": (405, "text/plain; charset=utf-8", b"Method Not Allowed"),
    "status-handler-404": (404, "application/json", b'{"custom404":true,"path":"/by-status/nope"}'),
    "status-handler-405": (405, "application/json", b'{"custom405":true}'),
    "status-handler-raised-404": (
        404,
        "application/json",
        b'{"custom404":true,"path":"/by-status/raise404"}',
    ),
    "response-validation-handler": (
        500,
        "application/json",
        (
            b'{"errors":[{"type":"missing","loc":["response","title"],"msg":"F'
            b'ield required","input":{"size":"y"}},{"type":"int_parsing","loc"'
            b':["response","size"],"msg":"Input should be a valid integer, una'
            b'ble to parse string as an integer","input":"y"}]}'
        ),
    ),
    "exception-handler-subclass": (400, "application/json", b'{"value":"bad value"}'),
    "exception-handler-500": (500, "application/json", b'{"generic":"rt"}'),
    "unhandled-500": (500, "text/plain; charset=utf-8", b"Internal Server Error"),
}
# END RECORDED


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("request_", REQUESTS, ids=ids(REQUESTS))
def test_answers_as_fastapi_does(client: TestClient, request_: Req) -> None:
    check(client, request_, EXPECTED)


def test_every_request_was_recorded() -> None:
    assert sorted(EXPECTED) == sorted(ids(REQUESTS))


# -- headers and the details of each case --------------------------------------------------


def test_422_body_exactly(client: TestClient) -> None:
    response = client.get("/query?a=x")
    assert response.status_code == 422
    assert response.headers.multi_items() == [
        ("content-length", "220"),
        ("content-type", "application/json"),
    ]
    assert response.content == (
        b'{"detail":[{"type":"int_parsing","loc":["query","a"],"msg":"Input should be a valid'
        b' integer, unable to parse string as an integer","input":"x"},{"type":"missing",'
        b'"loc":["query","b"],"msg":"Field required","input":null}]}'
    )


def test_http_exception_headers(client: TestClient) -> None:
    response = client.get("/http/418")
    assert response.status_code == 418
    assert response.headers["x-error"] == "There goes my error"
    assert response.json() == {"detail": {"msg": "custom", "code": 418}}
    response = client.get("/custom/teapot")
    assert (response.status_code, response.headers["x-t"], response.text) == (
        418,
        "1",
        "Nope! I don't like 3.",
    )


def test_404_and_405_with_allow(client: TestClient) -> None:
    response = client.get("/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert "allow" not in response.headers
    response = client.delete("/items/3")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    # As in Starlette, the first route that matches the path (GET) names the methods.
    assert response.headers["allow"] == "GET"
    response = client.put("/multi")
    assert sorted(response.headers["allow"].split(", ")) == ["GET", "PATCH", "POST"]
    # A status-code handler receives the exception with its Allow header.
    response = client.post("/by-status/x")
    assert (response.status_code, response.headers["allow"]) == (405, "GET")
    # The custom StarletteHTTPException handler forwards exc.headers too.
    response = client.post("/custom/query")
    assert (response.status_code, response.headers["allow"], response.text) == (
        405,
        "GET",
        "Method Not Allowed",
    )


def test_validation_error_exposes_body_and_errors() -> None:
    seen: dict[str, Any] = {}
    other = FastAPI()

    @other.exception_handler(RequestValidationError)
    async def handler(request: Request, exc: RequestValidationError) -> JSONResponse:
        seen["errors"], seen["body"] = exc.errors(), exc.body
        return JSONResponse({}, status_code=422)

    @other.post("/")
    async def endpoint(item: Item) -> Item:
        return item

    TestClient(other).post("/", json={"title": "ok", "size": "x"})
    assert seen["body"] == {"title": "ok", "size": "x"}
    assert seen["errors"] == [
        {
            "type": "int_parsing",
            "loc": ("body", "size"),
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": "x",
        }
    ]


def test_unhandled_errors_reach_the_test_client_when_asked() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        TestClient(app).get("/boom")
    # A handler for Exception answers, and the error is re-raised for the server log.
    with pytest.raises(RuntimeError, match="rt"):
        TestClient(app).get("/generic/runtime")


def test_debug_traceback_page() -> None:
    debug = FastAPI(debug=True)

    @debug.get("/boom")
    def explode() -> None:
        raise RuntimeError("kaboom <b>")

    client = TestClient(debug, raise_server_exceptions=False)
    response = client.get("/boom", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "500 Server Error" in page
    assert "RuntimeError: kaboom &lt;b&gt;" in page  # escaped
    assert __file__ in page and "explode" in page
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("Traceback (most recent call last):\n")
    assert response.text.endswith("RuntimeError: kaboom <b>\n")
    # Without debug: no details.
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_fastapi_http_exception_handler_does_not_catch_router_errors() -> None:
    other = FastAPI()

    @other.exception_handler(HTTPException)
    async def handler(request: Request, exc: HTTPException) -> PlainTextResponse:
        return PlainTextResponse(f"custom {exc.detail}", status_code=exc.status_code)

    @other.get("/raise")
    def endpoint() -> None:
        raise HTTPException(403, "nope")

    client = TestClient(other)
    assert client.get("/raise").text == "custom nope"
    response = client.get("/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    response = client.post("/raise")
    assert (response.status_code, response.headers.get("allow")) == (405, "GET")
