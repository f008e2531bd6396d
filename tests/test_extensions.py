"""Extensions written by other people, unchanged, on a real ``aster run`` through aster.compat.

Each app in ``tests/apps/ext_*.py`` is what the extension's documentation shows; the
extensions (``tests/extensions/requirements.txt``) are installed outside the venv by
``tests/extension_support.py``.  The expected answers are the ones the same apps give
on FastAPI 0.165 / Starlette 1.10 (checked by running them there).  What they exercise
in aster: fastapi-pagination appends a ``yield`` dependency to routes already built and
rebuilds ``route.app``; sentry-sdk replaces ``fastapi.routing.get_request_handler``;
the metrics exporters find a request's route template through
``fastapi.routing.iter_route_contexts``; slowapi raises from a decorator, answers from
an exception handler and sets headers on an injected ``Response``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from .extension_support import ensure_extensions
from .support import ROOT, Running, serve


@pytest.fixture(scope="module")
def extensions() -> str:
    return str(ensure_extensions())


@pytest.fixture
def server(request: pytest.FixtureRequest, extensions: str) -> Iterator[Running]:
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), extensions])}
    with serve(f"tests.apps.{request.param}:app", env=env) as running:
        yield running


def get(running: Running, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(running.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("server", ["ext_pagination"], indirect=True)
def test_fastapi_pagination(server: Running) -> None:
    response = get(server, "/users", params={"page": 2, "size": 5})
    assert response.status_code == 200
    assert response.json() == {
        "items": [{"id": i, "name": f"user{i}"} for i in range(6, 11)],
        "total": 23,
        "page": 2,
        "size": 5,
        "pages": 5,
    }
    response = get(server, "/v1/users", params={"page": 5, "size": 5})
    assert response.status_code == 200
    assert response.json()["items"] == [{"id": i, "name": f"user{i}"} for i in range(21, 24)]
    response = get(server, "/users", params={"size": 0})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "greater_than_equal",
                "loc": ["query", "size"],
                "msg": "Input should be greater than or equal to 1",
                "input": "0",
                "ctx": {"ge": 1},
            }
        ]
    }
    parameters = get(server, "/openapi.json").json()["paths"]["/v1/users"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["schema"]["default"]) for p in parameters] == [
        ("page", "query", 1),
        ("size", "query", 50),
    ]


@pytest.mark.parametrize("server", ["ext_slowapi"], indirect=True)
def test_slowapi(server: Running) -> None:
    answers = [get(server, "/limited") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert [r.text for r in answers] == [
        '{"ok":true}',
        '{"ok":true}',
        '{"error":"Rate limit exceeded: 2 per 1 minute"}',
    ]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["1", "0", "0"]
    assert {r.headers["x-ratelimit-limit"] for r in answers} == {"2"}
    assert answers[2].headers["retry-after"] == "60"
    defaults = [get(server, "/default").status_code for _ in range(4)]
    assert defaults == [200, 200, 200, 429]


@pytest.mark.parametrize("server", ["ext_observability"], indirect=True)
def test_request_ids_context_and_metrics(server: Running) -> None:
    cid = "a" * 32
    response = get(
        server, "/api/items/3", headers={"X-Correlation-ID": cid, "User-Agent": "probe/1"}
    )
    assert response.status_code == 200
    assert response.json() == {"item_id": 3, "cid": cid, "ua": "probe/1"}
    assert response.headers["x-correlation-id"] == cid
    response = get(server, "/api/items/4")
    generated = response.json()["cid"]
    assert len(generated) == 32 and response.headers["x-correlation-id"] == generated
    assert get(server, "/api/items/x").status_code == 422
    metrics = get(server, "/metrics").text.splitlines()
    assert [line for line in metrics if line.startswith("http_requests_total")] == [
        'http_requests_total{handler="/api/items/{item_id}",method="GET",status="2xx"} 2.0',
        'http_requests_total{handler="/api/items/{item_id}",method="GET",status="4xx"} 1.0',
    ]
    exporter = get(server, "/exporter-metrics").text.splitlines()
    assert sorted(line for line in exporter if line.startswith("exporter_requests_total")) == [
        'exporter_requests_total{app_name="demo",method="GET",path="/api/items/{item_id}",'
        'status_code="200"} 2.0',
        'exporter_requests_total{app_name="demo",method="GET",path="/api/items/{item_id}",'
        'status_code="422"} 1.0',
        'exporter_requests_total{app_name="demo",method="GET",path="/metrics",'
        'status_code="200"} 1.0',
    ]


@pytest.mark.parametrize("server", ["ext_sentry"], indirect=True)
def test_sentry_sdk(server: Running) -> None:
    assert get(server, "/boom/7").status_code == 500
    assert get(server, "/sync").json() == {"sync": True}
    events = get(server, "/_events").json()
    assert sorted(events, key=lambda e: (e["type"], e["transaction"])) == [
        {
            "type": "event",
            "transaction": "/boom/{n}",
            "source": "route",
            "error": "boom 7",
            "url": f"{server.url}/boom/7",
        },
        {
            "type": "transaction",
            "transaction": "/boom/{n}",
            "source": "route",
            "error": None,
            "url": f"{server.url}/boom/7",
        },
        {
            "type": "transaction",
            "transaction": "/sync",
            "source": "route",
            "error": None,
            "url": f"{server.url}/sync",
        },
    ]
