"""The demo's OpenAPI document, served by a real ``aster run``: valid, complete, and true.

The document fetched from ``/openapi.json`` is validated as OpenAPI 3.1 with
``openapi-spec-validator`` (all but the streams' ``itemSchema``, which is OpenAPI 3.2's,
as in FastAPI's documents), checked for what the demo declares (its paths, the OAuth2
password scheme, the SSE ``itemSchema``) and compared with ``aster openapi``'s output.
Then schemathesis generates requests from it against the live server, authenticated
with a demo token, and no response may be a server error.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.support import ROOT, serve
from tests.test_demo import DEMO, demo_env, login

# The live streams never end on their own: /notes/feed (SSE) and /clock.
ENDLESS = {"/notes/feed", "/clock"}

EXPECTED_OPERATIONS = {
    ("get", "/health"),
    ("post", "/token"),
    ("get", "/users/me"),
    ("get", "/notes"),
    ("post", "/notes"),
    ("get", "/notes/feed"),
    ("get", "/notes/{note_id}"),
    ("delete", "/notes/{note_id}"),
    ("get", "/audit"),
    ("get", "/export.ndjson"),
    ("get", "/clock"),
}
# What schemathesis generates for: valid requests for every operation that ends, and
# invalid ones for those with parameters or a body to get wrong.
WITH_INPUTS = {
    ("post", "/token"),
    ("get", "/notes"),
    ("post", "/notes"),
    ("get", "/notes/{note_id}"),
    ("delete", "/notes/{note_id}"),
    ("get", "/audit"),
}
FUZZED = [
    (method, path, mode)
    for method, path in sorted(EXPECTED_OPERATIONS)
    if path not in ENDLESS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) in WITH_INPUTS
]
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
PROTECTED = {
    ("get", "/users/me"),
    ("post", "/notes"),
    ("delete", "/notes/{note_id}"),
    ("get", "/audit"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("demo-openapi") / "notes.sqlite3"
    with serve(*DEMO, env=demo_env(db)) as running:
        yield running.url


@pytest.fixture(scope="module")
def served(server: str) -> dict[str, Any]:
    response = httpx.get(f"{server}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(scope="module")
def auth(server: str) -> dict[str, str]:
    with httpx.Client(base_url=server, timeout=10) as client:
        return login(client, "demo", "demo")


def item_schema_locations(document: dict[str, Any]) -> set[tuple[str, ...]]:
    """Where the document has ``itemSchema`` media types: (path, method, status, media type)."""
    return {
        (path, method, status, media_type)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        for media_type, content in response.get("content", {}).items()
        if "itemSchema" in content
    }


def test_served_document_is_valid_openapi_3_1(served: dict[str, Any]) -> None:
    assert served["openapi"] == "3.1.0"
    info = served["info"]
    assert info["title"] == "aster notes" and info["version"] == "2.0"
    assert info["summary"] and "demo" in info["description"]
    # A stream's per-item schema, ``itemSchema``, is OpenAPI 3.2's: FastAPI writes it into
    # its 3.1.0 documents too, and it is the one thing a strict 3.1 validator rejects.
    streams = item_schema_locations(served)
    assert streams == {
        ("/notes/feed", "get", "200", "text/event-stream"),
        ("/export.ndjson", "get", "200", "application/x-ndjson"),
        ("/clock", "get", "200", "application/x-ndjson"),
    }
    errors = {
        tuple(map(str, error.absolute_path)): error.message.splitlines()[0]
        for error in OpenAPIV31SpecValidator(served).iter_errors()
    }
    unexpected = "Unevaluated properties are not allowed ('itemSchema' was unexpected)"
    assert errors == {
        ("paths", path, method, "responses", status, "content", media_type): unexpected
        for path, method, status, media_type in streams
    }
    # Read as ``schema``, each item schema is a valid 3.1 Schema Object, and the rest of the
    # document is valid 3.1 as it stands.
    as_schema = copy.deepcopy(served)
    for path, method, status, media_type in streams:
        content = as_schema["paths"][path][method]["responses"][status]["content"][media_type]
        content["schema"] = content.pop("itemSchema")
    validate(as_schema)  # picks the validator from the "openapi" field: 3.1
    # And as OpenAPI 3.2, which has itemSchema, the served document is valid unchanged.
    validate({**served, "openapi": "3.2.0"})


def test_every_demo_operation_is_documented(served: dict[str, Any]) -> None:
    operations = {
        (method, path): operation
        for path, item in served["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == EXPECTED_OPERATIONS  # the HTML page at / is not in the schema
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids))
    tags = {tag["name"] for tag in served["tags"]}
    for key, operation in operations.items():
        assert operation["summary"], key
        assert operation["tags"] and set(operation["tags"]) <= tags, key
        if key in PROTECTED:
            assert operation["security"] == [{"OAuth2PasswordBearer": []}], key
            assert "401" in operation["responses"], key
        else:
            assert "security" not in operation, key
    note = operations["get", "/notes/{note_id}"]
    assert note["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Note"
    }
    assert set(note["responses"]) == {"200", "404", "422"}
    body = operations["post", "/notes"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NoteIn"}
    token_body = operations["post", "/token"]["requestBody"]["content"]
    assert list(token_body) == ["application/x-www-form-urlencoded"]
    for path in ("/export.ndjson", "/clock"):
        assert list(operations["get", path]["responses"]["200"]["content"]) == [
            "application/x-ndjson"
        ]


def test_oauth2_password_security_scheme(served: dict[str, Any]) -> None:
    assert served["components"]["securitySchemes"] == {
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {"password": {"scopes": {}, "tokenUrl": "token"}},
        }
    }


def test_sse_operation_documents_its_event_stream(served: dict[str, Any]) -> None:
    feed = served["paths"]["/notes/feed"]["get"]
    content = feed["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    item = content["text/event-stream"]["itemSchema"]
    assert item["type"] == "object"
    assert item["properties"] == {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    }
    assert "schema" not in content["text/event-stream"]


def test_schema_components_match_the_models(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    assert {"Note", "NoteIn", "Token", "User", "AuditEvent", "HTTPValidationError"} <= set(schemas)
    assert schemas["NoteIn"]["required"] == ["text"]
    assert schemas["NoteIn"]["properties"]["text"]["maxLength"] == 500
    assert schemas["Note"]["properties"]["created"]["format"] == "date-time"
    assert schemas["AuditEvent"]["properties"]["action"]["enum"] == ["created", "deleted"]


def test_cli_prints_the_served_document(served: dict[str, Any], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aster", "openapi", *DEMO],
        cwd=ROOT,
        # The app's lifespan is not run: no database is opened, the variable is moot.
        env={**os.environ, **demo_env(tmp_path / "unused.sqlite3")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == served
    assert not (tmp_path / "unused.sqlite3").exists()


# -- property-based: schemathesis against the live demo ------------------------------------
#
# schemathesis' own pytest loader for fixtures (``schemathesis.pytest.from_fixture``) sets
# ``Function._nodeid``, which pytest 9.2 no longer has; so each operation gets a plain
# Hypothesis test over ``operation.as_strategy()``, and a second test runs the schemathesis
# CLI, whose coverage phase tries the boundaries (minimum - 1, maximum + 1, ...) and whose
# stateful phase follows the links between operations (create a note, read it, delete it).


@pytest.fixture(scope="module")
def live_schema(server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server}/openapi.json", timeout=10)


@pytest.mark.parametrize(
    ("method", "path", "mode"), FUZZED, ids=[f"{m} {p} {g}" for m, p, g in FUZZED]
)
def test_generated_requests_get_no_server_error(
    live_schema: schemathesis.BaseSchema,
    server: str,
    auth: dict[str, str],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = live_schema[path][method]
    seen: list[int] = []

    @settings(
        max_examples=25,
        deadline=None,
        database=None,  # nothing saved in the checkout
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, unshrunk
    )
    @given(case=operation.as_strategy(mode))
    def call(case: schemathesis.Case) -> None:
        # The token is the demo user's: protected operations get past authentication.
        response = case.call(base_url=server, headers=auth, timeout=10)
        seen.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    call()
    assert seen and max(seen) < 500


def test_schemathesis_cli_finds_no_server_error(
    server: str, auth: dict[str, str], tmp_path: Path
) -> None:
    command = [
        *SCHEMATHESIS,
        "run",
        f"{server}/openapi.json",
        "--checks=not_a_server_error",
        "--max-examples=25",
        f"--header=Authorization: {auth['Authorization']}",
        *(f"--exclude-path={path}" for path in sorted(ENDLESS)),
        "--request-timeout=10",
        "--generation-database=none",
        "--no-color",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Selected: 9/11" in report and "Tested: 9" in report, report
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report


def test_ids_beyond_sqlite_integers_are_rejected_not_crashed(
    server: str, auth: dict[str, str], served: dict[str, Any]
) -> None:
    """Found fuzzing: an unbounded ``int`` reached sqlite3, which raised OverflowError (a 500)."""
    huge = 2**63  # one past SQLite's INTEGER
    with httpx.Client(base_url=server, headers=auth, timeout=10) as client:
        for method, url in (
            ("GET", f"/notes/{huge}"),
            ("DELETE", f"/notes/{huge}"),
            ("GET", f"/audit?after={huge}"),
        ):
            response = client.request(method, url)
            assert response.status_code == 422, (method, url, response.text)
            assert response.json()["detail"][0]["type"] == "less_than_equal"
        assert client.get(f"/notes/{huge - 1}").status_code == 404
        assert client.get("/audit", params={"after": huge - 1}).json() == []
    note_id = served["paths"]["/notes/{note_id}"]["get"]["parameters"][0]
    assert note_id["schema"]["maximum"] == huge - 1
