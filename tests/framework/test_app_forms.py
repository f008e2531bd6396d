"""Form, File and UploadFile parameters, form models, and the form limits.

``REQUESTS`` are answered byte for byte as FastAPI 0.165 answers them (``EXPECTED``
was recorded from it: see tests/framework/recorded.py).
"""

# Optional[...] and Union[...] on purpose: FastAPI apps are written that way.
# ruff: noqa: UP007, UP045

from __future__ import annotations

import os
from typing import Annotated, Any, Optional, Union

import pytest
from pydantic import BaseModel

from aster import APIRouter, FastAPI, File, Form, Request, UploadFile
from aster.testclient import TestClient

from .recorded import Expected, check, ids
from .recorded import Request as Req

app = FastAPI()
limited = FastAPI(form_limits={"max_fields": 2, "max_files": 1, "max_part_size": 10})
app.mount("/limited", limited)
SEEN: dict[str, Any] = {}


@app.post("/login")
async def login(username: Annotated[str, Form()], password: Annotated[str, Form(min_length=3)]):
    return {"username": username, "password": password}


@app.post("/form-types")
async def form_types(
    n: Annotated[int, Form()],
    b: Annotated[bool, Form()] = False,
    tags: Annotated[list[str], Form()] = [],  # noqa: B006 (the FastAPI idiom)
    opt: Annotated[Optional[str], Form()] = None,
):
    return {"n": n, "b": b, "tags": tags, "opt": opt}


@app.post("/files")
async def files(file: Annotated[bytes, File()], up: UploadFile, token: Annotated[str, Form()]):
    data = await up.read()
    return {
        "file_size": len(file),
        "filename": up.filename,
        "content_type": up.content_type,
        "read": len(data),
        "size": up.size,
        "token": token,
    }


@app.post("/upload-sync")
def upload_sync(up: UploadFile):
    data = up.file.read()
    SEEN["sync-upload"] = (up.filename, len(data))
    return {"filename": up.filename, "size": len(data), "headers": dict(up.headers)}


@app.post("/many-files")
async def many_files(files: Annotated[list[UploadFile], File(description="several")]):
    return {"names": [f.filename for f in files], "sizes": [len(await f.read()) for f in files]}


@app.post("/many-bytes")
async def many_bytes(files: Annotated[list[bytes], File()]):
    return {"sizes": [len(f) for f in files]}


@app.post("/optional-file")
async def optional_file(file: Annotated[Optional[UploadFile], File()] = None):
    return {"file": None if file is None else file.filename}


@app.post("/optional-bytes")
async def optional_bytes(file: Annotated[Union[bytes, None], File()] = None):
    return {"file": None if file is None else len(file)}


class LoginForm(BaseModel):
    model_config = {"extra": "forbid"}
    username: str
    password: str
    age: int = 0


@app.post("/form-model")
async def form_model(data: Annotated[LoginForm, Form()]):
    SEEN["form-model"] = data
    return data


class TagsForm(BaseModel):
    username: str
    tags: list[str] = []


@app.post("/form-model-loose")
async def form_model_loose(data: Annotated[TagsForm, Form()]):
    return data


@app.post("/form-default")
async def form_default(a: Annotated[str, Form()] = "default"):
    return {"a": a}


@limited.post("/form")
async def limited_form(
    a: Annotated[str, Form()] = "",
    b: Annotated[str, Form()] = "",
    c: Annotated[str, Form()] = "",
    f: Annotated[Optional[list[UploadFile]], File()] = None,
):
    return {"a": a, "b": b, "c": c, "files": len(f or [])}


@limited.post("/request-form")
async def limited_request_form(request: Request):
    form = await request.form()
    return {"keys": list(form.keys())}


URLENCODED = {"content-type": "application/x-www-form-urlencoded"}

REQUESTS: list[Req] = [
    ("login", "POST", "/login", {"data": {"username": "u", "password": "pwd"}}),
    ("login-missing", "POST", "/login", {"data": {"username": "u"}}),
    ("login-nothing", "POST", "/login", {}),
    ("login-too-short", "POST", "/login", {"data": {"username": "u", "password": "p"}}),
    ("login-json", "POST", "/login", {"json": {"username": "u", "password": "pwd"}}),
    ("login-multipart", "POST", "/login",
     {"data": {"username": "u", "password": "pwd"}, "files": {"x": ("a.txt", b"hi")}}),
    ("form-types", "POST", "/form-types",
     {"data": {"n": "3", "b": "on", "tags": ["a", "b"], "opt": ""}}),
    ("form-types-bad", "POST", "/form-types", {"data": {"n": "x", "b": "maybe"}}),
    ("form-types-empty", "POST", "/form-types", {"data": {"n": ""}}),
    ("files", "POST", "/files", {"data": {"token": "t"}, "files": {
        "file": ("a.bin", b"abc"), "up": ("b.txt", b"hello", "text/plain")}}),
    ("files-missing", "POST", "/files", {"data": {"token": "t"}}),
    ("files-strings-for-files", "POST", "/files",
     {"data": {"token": "t", "up": "notafile", "file": "str"}}),
    ("many-files", "POST", "/many-files",
     {"files": [("files", ("1.txt", b"a")), ("files", ("2.txt", b"bb"))]}),
    ("many-files-missing", "POST", "/many-files", {}),
    ("many-bytes", "POST", "/many-bytes",
     {"files": [("files", ("1.txt", b"a")), ("files", ("2.txt", b"bb"))]}),
    ("optional-file-absent", "POST", "/optional-file", {}),
    ("optional-file", "POST", "/optional-file", {"files": {"file": ("x.txt", b"x")}}),
    ("optional-file-empty-upload", "POST", "/optional-file", {"files": {"file": ("", b"")}}),
    ("optional-bytes-absent", "POST", "/optional-bytes", {}),
    ("optional-bytes", "POST", "/optional-bytes", {"files": {"file": ("x.txt", b"xy")}}),
    ("form-model", "POST", "/form-model",
     {"data": {"username": "u", "password": "p", "age": "3"}}),
    ("form-model-missing", "POST", "/form-model", {"data": {"username": "u"}}),
    ("form-model-forbid-extra", "POST", "/form-model",
     {"data": {"username": "u", "password": "p", "extra": "e"}}),
    ("form-model-no-body", "POST", "/form-model", {}),
    ("form-model-loose", "POST", "/form-model-loose",
     {"data": {"username": "u", "tags": ["a", "b"], "zzz": "1"}}),
    ("form-model-one-tag", "POST", "/form-model-loose", {"data": {"username": "u", "tags": "a"}}),
    ("form-default-no-body", "POST", "/form-default", {}),
    ("form-default-empty-value", "POST", "/form-default", {"data": {"a": ""}}),
    ("limits-ok", "POST", "/limited/form", {"data": {"a": "1", "b": "2"}}),
    ("limits-fields", "POST", "/limited/form", {"data": {"a": "1", "b": "2", "c": "3"}}),
    ("limits-fields-urlencoded", "POST", "/limited/form",
     {"content": b"a=1&b=2&c=3", "headers": URLENCODED}),
    ("limits-part-size", "POST", "/limited/form", {"data": {"a": "12345678901"}}),
    ("limits-part-size-urlencoded", "POST", "/limited/form",
     {"content": b"a=12345678901", "headers": URLENCODED}),
    ("limits-files", "POST", "/limited/form",
     {"files": [("f", ("1", b"1")), ("f", ("2", b"2"))]}),
    ("limits-file-size-not-a-part", "POST", "/limited/form",
     {"files": [("f", ("1", b"1" * 100))]}),
    ("limits-not-for-request-form", "POST", "/limited/request-form",
     {"data": {"a": "1", "b": "2", "c": "3"}}),
    ("default-part-size", "POST", "/form-default",
     {"data": {"a": "x" * (1024 * 1024 + 1)}, "files": {"z": ("z", b"z")}}),
    ("default-field-size-urlencoded", "POST", "/form-default",
     {"data": {"a": "x" * (1024 * 1024 + 1)}}),
    ("default-max-fields", "POST", "/form-default", {"data": {f"k{i}": "v" for i in range(1001)}}),
    ("default-max-files", "POST", "/many-files", {"files": [("files", ("a", b"x"))] * 1001}),
    ("multipart-garbage", "POST", "/login",
     {"content": b"garbage", "headers": {"content-type": "multipart/form-data; boundary=xyz"}}),
    ("multipart-no-boundary", "POST", "/login",
     {"content": b"garbage", "headers": {"content-type": "multipart/form-data"}}),
]  # fmt: skip

# BEGIN RECORDED (scripts/record_fastapi_expectations.py; fastapi 0.165.0, starlette 1.10.0)
EXPECTED: dict[str, Expected] = {
    "login": (200, "application/json", b'{"username":"u","password":"pwd"}'),
    "login-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","password"],"msg":"Fi'
            b'eld required","input":null}]}'
        ),
    ),
    "login-nothing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","username"],"msg":"Fi'
            b'eld required","input":null},{"type":"missing","loc":["body","pas'
            b'sword"],"msg":"Field required","input":null}]}'
        ),
    ),
    "login-too-short": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_too_short","loc":["body","password"],'
            b'"msg":"String should have at least 3 characters","input":"p","ct'
            b'x":{"min_length":3}}]}'
        ),
    ),
    "login-json": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","username"],"msg":"Fi'
            b'eld required","input":null},{"type":"missing","loc":["body","pas'
            b'sword"],"msg":"Field required","input":null}]}'
        ),
    ),
    "login-multipart": (200, "application/json", b'{"username":"u","password":"pwd"}'),
    "form-types": (200, "application/json", b'{"n":3,"b":true,"tags":["a","b"],"opt":null}'),
    "form-types-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["body","n"],"msg":"Input'
            b" should be a valid integer, unable to parse string as an integer"
            b'","input":"x"},{"type":"bool_parsing","loc":["body","b"],"msg":"'
            b'Input should be a valid boolean, unable to interpret input","inp'
            b'ut":"maybe"}]}'
        ),
    ),
    "form-types-empty": (
        422,
        "application/json",
        (b'{"detail":[{"type":"missing","loc":["body","n"],"msg":"Field required","input":null}]}'),
    ),
    "files": (
        200,
        "application/json",
        (
            b'{"file_size":3,"filename":"b.txt","content_type":"text/plain","r'
            b'ead":5,"size":5,"token":"t"}'
        ),
    ),
    "files-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","file"],"msg":"Field '
            b'required","input":null},{"type":"missing","loc":["body","up"],"m'
            b'sg":"Field required","input":null}]}'
        ),
    ),
    "files-strings-for-files": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"value_error","loc":["body","up"],"msg":"Valu'
            b'e error, Expected UploadFile, received: <class \'str\'>","input":"'
            b'notafile","ctx":{"error":{}}}]}'
        ),
    ),
    "many-files": (200, "application/json", b'{"names":["1.txt","2.txt"],"sizes":[1,2]}'),
    "many-files-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","files"],"msg":"Field'
            b' required","input":null}]}'
        ),
    ),
    "many-bytes": (200, "application/json", b'{"sizes":[1,2]}'),
    "optional-file-absent": (200, "application/json", b'{"file":null}'),
    "optional-file": (200, "application/json", b'{"file":"x.txt"}'),
    "optional-file-empty-upload": (200, "application/json", b'{"file":null}'),
    "optional-bytes-absent": (200, "application/json", b'{"file":null}'),
    "optional-bytes": (200, "application/json", b'{"file":2}'),
    "form-model": (200, "application/json", b'{"username":"u","password":"p","age":3}'),
    "form-model-missing": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","password"],"msg":"Fi'
            b'eld required","input":{"username":"u"}}]}'
        ),
    ),
    "form-model-forbid-extra": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"extra_forbidden","loc":["body","extra"],"msg'
            b'":"Extra inputs are not permitted","input":"e"}]}'
        ),
    ),
    "form-model-no-body": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","username"],"msg":"Fi'
            b'eld required","input":{}},{"type":"missing","loc":["body","passw'
            b'ord"],"msg":"Field required","input":{}}]}'
        ),
    ),
    "form-model-loose": (200, "application/json", b'{"username":"u","tags":["a","b"]}'),
    "form-model-one-tag": (200, "application/json", b'{"username":"u","tags":["a"]}'),
    "form-default-no-body": (200, "application/json", b'{"a":"default"}'),
    "form-default-empty-value": (200, "application/json", b'{"a":"default"}'),
    "limits-ok": (200, "application/json", b'{"a":"1","b":"2","c":"","files":0}'),
    "limits-fields": (
        400,
        "application/json",
        b'{"detail":"Too many fields. Maximum number of fields is 2."}',
    ),
    "limits-fields-urlencoded": (
        400,
        "application/json",
        b'{"detail":"Too many fields. Maximum number of fields is 2."}',
    ),
    "limits-part-size": (
        400,
        "application/json",
        b'{"detail":"Field exceeded maximum size of 0KB."}',
    ),
    "limits-part-size-urlencoded": (
        400,
        "application/json",
        b'{"detail":"Field exceeded maximum size of 0KB."}',
    ),
    "limits-files": (
        400,
        "application/json",
        b'{"detail":"Too many files. Maximum number of files is 1."}',
    ),
    "limits-file-size-not-a-part": (200, "application/json", b'{"a":"","b":"","c":"","files":1}'),
    "limits-not-for-request-form": (200, "application/json", b'{"keys":["a","b","c"]}'),
    "default-part-size": (
        400,
        "application/json",
        b'{"detail":"Part exceeded maximum size of 1024KB."}',
    ),
    "default-field-size-urlencoded": (
        400,
        "application/json",
        b'{"detail":"Field exceeded maximum size of 1024KB."}',
    ),
    "default-max-fields": (
        400,
        "application/json",
        b'{"detail":"Too many fields. Maximum number of fields is 1000."}',
    ),
    "default-max-files": (
        400,
        "application/json",
        b'{"detail":"Too many files. Maximum number of files is 1000."}',
    ),
    "multipart-garbage": (400, "application/json", b'{"detail":"Invalid multipart data."}'),
    "multipart-no-boundary": (
        400,
        "application/json",
        b'{"detail":"Missing boundary in multipart."}',
    ),
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


# -- beyond the table ----------------------------------------------------------------------


def test_form_model_instance(client: TestClient) -> None:
    client.post("/form-model", data={"username": "u", "password": "p"})
    assert SEEN["form-model"] == LoginForm(username="u", password="p")


def test_large_upload_in_a_sync_endpoint(client: TestClient) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    response = client.post(
        "/upload-sync",
        files={"up": ("big.bin", data, "application/octet-stream")},
    )
    assert response.status_code == 200
    assert response.json() == {
        "filename": "big.bin",
        "size": len(data),
        "headers": {
            "content-disposition": 'form-data; name="up"; filename="big.bin"',
            "content-type": "application/octet-stream",
        },
    }
    assert SEEN["sync-upload"] == ("big.bin", len(data))


def test_upload_file_details(client: TestClient) -> None:
    response = client.post(
        "/files",
        data={"token": "tok"},
        files={"file": ("a.bin", b"\x00\x01"), "up": ("b.txt", b"hello", "text/plain")},
    )
    assert response.json() == {
        "file_size": 2,
        "filename": "b.txt",
        "content_type": "text/plain",
        "read": 5,
        "size": 5,
        "token": "tok",
    }


def test_form_limit_errors_are_400(client: TestClient) -> None:
    response = client.post("/limited/form", data={"a": "1", "b": "2", "c": "3"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many fields. Maximum number of fields is 2."}
    files = [("f", ("1", b"1")), ("f", ("2", b"2"))]
    response = client.post("/limited/form", files=files)
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many files. Maximum number of files is 1."}


@pytest.mark.parametrize(
    "limits",
    [{"max_parts": 1}, {"max_files": -1}, {"max_fields": False}, {"max_part_size": 1.5}],
)
def test_invalid_form_limits_are_refused_at_startup(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FastAPI(form_limits=limits)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FastAPI().include_router(APIRouter(), form_limits=limits)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FastAPI().post("/", form_limits=limits)(login)  # type: ignore[arg-type]


def test_form_limits_merge_key_by_key_across_levels() -> None:
    async def field(text: Annotated[str, Form()]) -> str:
        return text

    child = APIRouter(form_limits={"max_fields": 1})
    child.post("/", form_limits={"max_part_size": 3})(field)
    parent = APIRouter()
    parent.include_router(child, form_limits={"max_fields": 4})
    other = FastAPI(form_limits={"max_part_size": 1})
    other.include_router(parent, prefix="/one", form_limits={"max_files": 0})
    other.include_router(parent, prefix="/two", form_limits={"max_files": 1})
    client = TestClient(other)
    payload = [("text", (None, "abc")), ("file", ("f", b"12345"))]
    assert client.post("/one/", files=payload).status_code == 400  # max_files=0
    assert client.post("/two/", files=payload).json() == "abc"
    assert client.post("/two/", files=[*payload, ("text", (None, "z"))]).status_code == 400
    assert client.post("/two/", files={"text": (None, "abcd")}).status_code == 400


def test_explicit_request_form_limits_win() -> None:
    other = FastAPI(form_limits={"max_fields": 0})

    @other.post("/")
    async def manual(request: Request) -> str:
        async with request.form(max_fields=1) as form:
            return str(form["text"])

    client = TestClient(other)
    assert client.post("/", data={"text": "ok"}).json() == "ok"
    assert client.post("/", data={"text": "ok", "extra": "v"}).status_code == 400


def test_form_limits_are_inherited_by_mounted_apps() -> None:
    async def field(text: Annotated[str, Form()]) -> str:
        return text

    child = FastAPI()
    child.post("/")(field)
    parent = FastAPI(form_limits={"max_part_size": 2})
    parent.mount("/child", child)
    client = TestClient(parent)
    assert client.post("/child/", files={"text": (None, "ab")}).json() == "ab"
    assert client.post("/child/", files={"text": (None, "abc")}).status_code == 400
