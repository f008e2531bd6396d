"""Union-typed form fields and models, and nullable parameters with defaults.

``REQUESTS`` are answered byte for byte as FastAPI 0.165 answers them (``EXPECTED`` was
recorded from it: see tests/framework/recorded.py).  A form is flat strings, so each
model of a union reads the raw values its own way (repeated keys, empty values,
defaults) before the union tries it; the 422s name the branch.  Parameters that may be
``None`` validate their defaults as FastAPI does, and a ``default_factory`` runs for
every request that lacks the value.
"""

# Optional[...] and Union[...] on purpose: FastAPI apps are written that way.
# ruff: noqa: UP007, UP045

from __future__ import annotations

import itertools
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, Json

from aster import Body, Cookie, FastAPI, Form, Header, Query
from aster.testclient import TestClient

from .recorded import Expected, check, ids
from .recorded import Request as Req

app = FastAPI()


class Cat(BaseModel):
    kind: Literal["cat"]
    name: str
    lives: int = 9
    tags: list[str] = []


class Dog(BaseModel):
    kind: Literal["dog"]
    name: str
    good: bool = True
    tricks: list[str] = Field(default_factory=list)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(validation_alias="the-code")]


@app.post("/pet")
async def pet(animal: Annotated[Union[Cat, Dog], Form()]):
    return {"type": type(animal).__name__, "animal": animal}


@app.post("/pet-tagged")
async def pet_tagged(animal: Annotated[Union[Cat, Dog], Form(discriminator="kind")]):
    return {"type": type(animal).__name__, "animal": animal}


@app.post("/pet-optional")
async def pet_optional(animal: Annotated[Optional[Union[Cat, Dog]], Form()] = None):
    return {"type": type(animal).__name__, "animal": animal}


@app.post("/pet-or-code")
async def pet_or_code(item: Annotated[Union[Strict, Cat], Form()]):
    return {"type": type(item).__name__, "item": item}


@app.post("/pet-and-note")
async def pet_and_note(
    animal: Annotated[Union[Cat, Dog], Form()], note: Annotated[str, Form()] = "none"
):
    return {"type": type(animal).__name__, "animal": animal, "note": note}


@app.post("/form-nullable")
async def form_nullable(
    text: Annotated[Optional[str], Form()] = None,
    number: Annotated[Union[int, None], Form()] = 5,
    choice: Annotated[Union[int, str], Form()] = "x",
):
    return {"text": text, "number": number, "choice": choice}


@app.get("/query-nullable")
async def query_nullable(
    a: Optional[int] = None,
    b: Annotated[Union[int, None], Query()] = 5,
    c: Annotated[Optional[str], Query(min_length=3)] = None,
    d: Annotated[Optional[int], Query(validate_default=True)] = None,
    e: Annotated[Union[int, str, None], Query()] = None,
    f: Annotated[Optional[list[int]], Query()] = None,
    g: Annotated[Optional[Json[list[int]]], Query()] = None,
):
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}


@app.get("/query-validated-default")
async def query_validated_default(
    n: Annotated[int, Query(validate_default=True, ge=10)] = 5,
):
    return {"n": n}


@app.get("/header-cookie-nullable")
async def header_cookie_nullable(
    x_token: Annotated[Optional[str], Header()] = None,
    x_count: Annotated[Union[int, None], Header()] = 1,
    session: Annotated[Optional[str], Cookie()] = None,
):
    return {"x_token": x_token, "x_count": x_count, "session": session}


@app.post("/body-nullable")
async def body_nullable(
    value: Annotated[Optional[int], Body(embed=True)] = None,
    label: Annotated[Union[str, None], Body()] = "unset",
):
    return {"value": value, "label": label}


_counter = itertools.count(1)


@app.get("/factory")
async def factory(
    n: Annotated[int, Query(default_factory=lambda: next(_counter))],
    tags: Annotated[list[str], Query(default_factory=list)],
):
    tags.append("seen")  # a fresh list each time: a factory's value is not shared
    return {"n": n, "tags": tags}


JSON = {"content-type": "application/json"}

REQUESTS: list[Req] = [
    ("pet-cat", "POST", "/pet", {"data": {"kind": "cat", "name": "Tom", "lives": "7"}}),
    ("pet-cat-defaults", "POST", "/pet", {"data": {"kind": "cat", "name": "Tom"}}),
    ("pet-cat-tags", "POST", "/pet",
     {"data": {"kind": "cat", "name": "Tom", "tags": ["a", "b"]}}),
    ("pet-cat-one-tag", "POST", "/pet", {"data": {"kind": "cat", "name": "Tom", "tags": "a"}}),
    ("pet-dog", "POST", "/pet",
     {"data": {"kind": "dog", "name": "Rex", "good": "false", "tricks": ["sit", "roll"]}}),
    ("pet-dog-empty-field", "POST", "/pet", {"data": {"kind": "dog", "name": "Rex", "good": ""}}),
    ("pet-unknown-kind", "POST", "/pet", {"data": {"kind": "cow", "name": "Daisy"}}),
    ("pet-bad-lives", "POST", "/pet", {"data": {"kind": "cat", "name": "Tom", "lives": "x"}}),
    ("pet-no-body", "POST", "/pet", {}),
    ("pet-multipart", "POST", "/pet",
     {"files": {"kind": (None, "dog"), "name": (None, "Rex"), "tricks": (None, "sit")}}),
    ("pet-tagged-dog", "POST", "/pet-tagged", {"data": {"kind": "dog", "name": "Rex"}}),
    ("pet-tagged-unknown", "POST", "/pet-tagged", {"data": {"kind": "cow", "name": "Daisy"}}),
    ("pet-tagged-missing-kind", "POST", "/pet-tagged", {"data": {"name": "Rex"}}),
    ("pet-optional-none", "POST", "/pet-optional", {}),
    ("pet-optional-unrelated", "POST", "/pet-optional", {"data": {"other": "1"}}),
    ("pet-optional-cat", "POST", "/pet-optional", {"data": {"kind": "cat", "name": "Tom"}}),
    ("pet-or-code-strict", "POST", "/pet-or-code", {"data": {"the-code": "abc"}}),
    ("pet-or-code-extra", "POST", "/pet-or-code",
     {"data": {"the-code": "abc", "kind": "cat", "name": "Tom"}}),
    ("pet-or-code-cat", "POST", "/pet-or-code", {"data": {"kind": "cat", "name": "Tom"}}),
    ("pet-and-note", "POST", "/pet-and-note",
     {"data": {"kind": "cat", "name": "Tom", "note": "hi"}}),
    ("pet-and-note-default", "POST", "/pet-and-note", {"data": {"kind": "dog", "name": "Rex"}}),
    ("form-nullable-empty", "POST", "/form-nullable", {}),
    ("form-nullable-blank", "POST", "/form-nullable",
     {"data": {"text": "", "number": "", "choice": ""}}),
    ("form-nullable-values", "POST", "/form-nullable",
     {"data": {"text": "t", "number": "3", "choice": "4"}}),
    ("form-nullable-bad-number", "POST", "/form-nullable", {"data": {"number": "x"}}),
    ("query-nullable-none", "GET", "/query-nullable", {}),
    ("query-nullable-values", "GET",
     "/query-nullable?a=1&b=2&c=abc&d=4&e=five&f=1&f=2&g=[1,2]", {}),
    ("query-nullable-blank", "GET", "/query-nullable?a=&b=&c=&e=&g=", {}),
    ("query-nullable-short", "GET", "/query-nullable?c=ab", {}),
    ("query-nullable-bad", "GET", "/query-nullable?a=x&b=y&f=z&g=[", {}),
    ("query-validated-default", "GET", "/query-validated-default", {}),
    ("query-validated-given", "GET", "/query-validated-default?n=12", {}),
    ("header-cookie-none", "GET", "/header-cookie-nullable", {}),
    ("header-cookie-values", "GET", "/header-cookie-nullable",
     {"headers": {"x-token": "t", "x-count": "3", "cookie": "session=s"}}),
    ("header-cookie-bad", "GET", "/header-cookie-nullable", {"headers": {"x-count": "x"}}),
    ("body-nullable-none", "POST", "/body-nullable", {}),
    ("body-nullable-null", "POST", "/body-nullable",
     {"content": b'{"value": null, "label": null}', "headers": JSON}),
    ("body-nullable-values", "POST", "/body-nullable",
     {"content": b'{"value": 3, "label": "x"}', "headers": JSON}),
    ("body-nullable-bad", "POST", "/body-nullable",
     {"content": b'{"value": "x"}', "headers": JSON}),
    ("factory-first", "GET", "/factory", {}),
    ("factory-second", "GET", "/factory", {}),
    ("factory-given", "GET", "/factory?n=7&tags=a", {}),
]  # fmt: skip

# BEGIN RECORDED (scripts/record_fastapi_expectations.py; fastapi 0.165.0, starlette 1.10.0)
EXPECTED: dict[str, Expected] = {
    "pet-cat": (
        200,
        "application/json",
        (b'{"type":"Cat","animal":{"kind":"cat","name":"Tom","lives":7,"tags":[]}}'),
    ),
    "pet-cat-defaults": (
        200,
        "application/json",
        (b'{"type":"Cat","animal":{"kind":"cat","name":"Tom","lives":9,"tags":[]}}'),
    ),
    "pet-cat-tags": (
        200,
        "application/json",
        (b'{"type":"Cat","animal":{"kind":"cat","name":"Tom","lives":9,"tags":["a","b"]}}'),
    ),
    "pet-cat-one-tag": (
        200,
        "application/json",
        (b'{"type":"Cat","animal":{"kind":"cat","name":"Tom","lives":9,"tags":["a"]}}'),
    ),
    "pet-dog": (
        200,
        "application/json",
        (
            b'{"type":"Dog","animal":{"kind":"dog","name":"Rex","good":false,"'
            b'tricks":["sit","roll"]}}'
        ),
    ),
    "pet-dog-empty-field": (
        200,
        "application/json",
        (b'{"type":"Dog","animal":{"kind":"dog","name":"Rex","good":true,"tricks":[]}}'),
    ),
    "pet-unknown-kind": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"literal_error","loc":["body","Cat","kind"],"'
            b'msg":"Input should be \'cat\'","input":"cow","ctx":{"expected":"\'c'
            b'at\'"}},{"type":"literal_error","loc":["body","Dog","kind"],"msg"'
            b':"Input should be \'dog\'","input":"cow","ctx":{"expected":"\'dog\'"'
            b"}}]}"
        ),
    ),
    "pet-bad-lives": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["body","Cat","lives"],"m'
            b'sg":"Input should be a valid integer, unable to parse string as '
            b'an integer","input":"x"},{"type":"literal_error","loc":["body","'
            b'Dog","kind"],"msg":"Input should be \'dog\'","input":"cat","ctx":{'
            b'"expected":"\'dog\'"}}]}'
        ),
    ),
    "pet-no-body": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"missing","loc":["body","Cat","kind"],"msg":"'
            b'Field required","input":{}},{"type":"missing","loc":["body","Cat'
            b'","name"],"msg":"Field required","input":{}},{"type":"missing","'
            b'loc":["body","Dog","kind"],"msg":"Field required","input":{}},{"'
            b'type":"missing","loc":["body","Dog","name"],"msg":"Field require'
            b'd","input":{}}]}'
        ),
    ),
    "pet-multipart": (
        200,
        "application/json",
        (b'{"type":"Dog","animal":{"kind":"dog","name":"Rex","good":true,"tricks":["sit"]}}'),
    ),
    "pet-tagged-dog": (
        200,
        "application/json",
        (b'{"type":"Dog","animal":{"kind":"dog","name":"Rex","good":true,"tricks":[]}}'),
    ),
    "pet-tagged-unknown": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"union_tag_invalid","loc":["body"],"msg":"Inp'
            b"ut tag 'cow' found using 'kind' does not match any of the expect"
            b'ed tags: \'cat\', \'dog\'","input":{"kind":"cow","name":"Daisy"},"ct'
            b'x":{"discriminator":"\'kind\'","tag":"cow","expected_tags":"\'cat\','
            b" 'dog'\"}}]}"
        ),
    ),
    "pet-tagged-missing-kind": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"union_tag_not_found","loc":["body"],"msg":"U'
            b'nable to extract tag using discriminator \'kind\'","input":{"name"'
            b':"Rex"},"ctx":{"discriminator":"\'kind\'"}}]}'
        ),
    ),
    "pet-optional-none": (200, "application/json", b'{"type":"NoneType","animal":null}'),
    "pet-optional-unrelated": (200, "application/json", b'{"type":"NoneType","animal":null}'),
    "pet-optional-cat": (
        200,
        "application/json",
        (b'{"type":"Cat","animal":{"kind":"cat","name":"Tom","lives":9,"tags":[]}}'),
    ),
    "pet-or-code-strict": (200, "application/json", b'{"type":"Strict","item":{"code":"abc"}}'),
    "pet-or-code-extra": (
        200,
        "application/json",
        (b'{"type":"Cat","item":{"kind":"cat","name":"Tom","lives":9,"tags":[]}}'),
    ),
    "pet-or-code-cat": (
        200,
        "application/json",
        (b'{"type":"Cat","item":{"kind":"cat","name":"Tom","lives":9,"tags":[]}}'),
    ),
    "pet-and-note": (
        200,
        "application/json",
        (b'{"type":"Cat","animal":{"kind":"cat","name":"Tom","lives":9,"tags":[]},"note":"hi"}'),
    ),
    "pet-and-note-default": (
        200,
        "application/json",
        (
            b'{"type":"Dog","animal":{"kind":"dog","name":"Rex","good":true,"t'
            b'ricks":[]},"note":"none"}'
        ),
    ),
    "form-nullable-empty": (200, "application/json", b'{"text":null,"number":5,"choice":"x"}'),
    "form-nullable-blank": (200, "application/json", b'{"text":null,"number":5,"choice":"x"}'),
    "form-nullable-values": (200, "application/json", b'{"text":"t","number":3,"choice":"4"}'),
    "form-nullable-bad-number": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["body","number"],"msg":"'
            b"Input should be a valid integer, unable to parse string as an in"
            b'teger","input":"x"}]}'
        ),
    ),
    "query-nullable-none": (
        200,
        "application/json",
        b'{"a":null,"b":5,"c":null,"d":null,"e":null,"f":null,"g":null}',
    ),
    "query-nullable-values": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"json_type","loc":["query","g"],"msg":"JSON i'
            b'nput should be string, bytes or bytearray","input":["[1,2]"]}]}'
        ),
    ),
    "query-nullable-blank": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","a"],"msg":"Inpu'
            b"t should be a valid integer, unable to parse string as an intege"
            b'r","input":""},{"type":"int_parsing","loc":["query","b"],"msg":"'
            b"Input should be a valid integer, unable to parse string as an in"
            b'teger","input":""},{"type":"string_too_short","loc":["query","c"'
            b'],"msg":"String should have at least 3 characters","input":"","c'
            b'tx":{"min_length":3}},{"type":"json_type","loc":["query","g"],"m'
            b'sg":"JSON input should be string, bytes or bytearray","input":["'
            b'"]}]}'
        ),
    ),
    "query-nullable-short": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"string_too_short","loc":["query","c"],"msg":'
            b'"String should have at least 3 characters","input":"ab","ctx":{"'
            b'min_length":3}}]}'
        ),
    ),
    "query-nullable-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["query","a"],"msg":"Inpu'
            b"t should be a valid integer, unable to parse string as an intege"
            b'r","input":"x"},{"type":"int_parsing","loc":["query","b"],"msg":'
            b'"Input should be a valid integer, unable to parse string as an i'
            b'nteger","input":"y"},{"type":"int_parsing","loc":["query","f",0]'
            b',"msg":"Input should be a valid integer, unable to parse string '
            b'as an integer","input":"z"},{"type":"json_type","loc":["query","'
            b'g"],"msg":"JSON input should be string, bytes or bytearray","inp'
            b'ut":["["]}]}'
        ),
    ),
    "query-validated-default": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"greater_than_equal","loc":["query","n"],"msg'
            b'":"Input should be greater than or equal to 10","input":5,"ctx":'
            b'{"ge":10}}]}'
        ),
    ),
    "query-validated-given": (200, "application/json", b'{"n":12}'),
    "header-cookie-none": (200, "application/json", b'{"x_token":null,"x_count":1,"session":null}'),
    "header-cookie-values": (200, "application/json", b'{"x_token":"t","x_count":3,"session":"s"}'),
    "header-cookie-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["header","x-count"],"msg'
            b'":"Input should be a valid integer, unable to parse string as an'
            b' integer","input":"x"}]}'
        ),
    ),
    "body-nullable-none": (200, "application/json", b'{"value":null,"label":"unset"}'),
    "body-nullable-null": (200, "application/json", b'{"value":null,"label":null}'),
    "body-nullable-values": (200, "application/json", b'{"value":3,"label":"x"}'),
    "body-nullable-bad": (
        422,
        "application/json",
        (
            b'{"detail":[{"type":"int_parsing","loc":["body","value"],"msg":"I'
            b"nput should be a valid integer, unable to parse string as an int"
            b'eger","input":"x"}]}'
        ),
    ),
    "factory-first": (200, "application/json", b'{"n":1,"tags":["seen"]}'),
    "factory-second": (200, "application/json", b'{"n":2,"tags":["seen"]}'),
    "factory-given": (200, "application/json", b'{"n":7,"tags":["a","seen"]}'),
}
# END RECORDED


def test_answers_as_fastapi_does() -> None:
    # One test, the table in order: the default_factory requests count the calls.
    wrong = []
    with TestClient(app) as client:
        for request in REQUESTS:
            try:
                check(client, request, EXPECTED)
            except AssertionError:
                wrong.append(request[0])
    assert wrong == []


def test_every_request_was_recorded() -> None:
    assert sorted(EXPECTED) == sorted(ids(REQUESTS))
