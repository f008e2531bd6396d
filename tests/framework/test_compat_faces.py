"""``starlette.X`` and ``fastapi.X`` where the two real modules differ: each has its own face.

The name lists are the public top-level names of the real modules (FastAPI 0.165.0,
Starlette 1.10.0): what each defines, and what it imports from its own package (which
code imports from it).  The few aster does not have yet are listed with the reason.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import aster._starlette_routing
import aster.routing
import aster.sse
from aster import compat

from .asgi import call, make_scope


@pytest.fixture(autouse=True)
def aliases() -> Iterator[None]:
    compat.uninstall()
    compat.install()
    yield
    compat.uninstall()


STARLETTE_ROUTING = {
    "ASGIApp", "BaseRoute", "CONVERTOR_TYPES", "Convertor", "HTTPException", "Headers", "Host",
    "Lifespan", "Match", "Middleware", "Mount", "NoMatchFound", "PARAM_FORMAT_REGEX",
    "PARAM_REGEX", "PlainTextResponse", "Receive", "RedirectResponse", "Request",
    "RequestBodyLimitMiddleware", "Response", "Route", "Router", "Scope", "Send",
    "StarletteDeprecationWarning", "URL", "URLPath", "WebSocket", "WebSocketClose",
    "WebSocketRoute", "compile_path", "get_name",
    "get_route_path", "is_async_callable", "parse_host_header", "replace_params",
    "request_response", "run_in_threadpool", "websocket_session", "wrap_app_handling_exceptions",
}  # fmt: skip
STARLETTE_ROUTING_MISSING: set[str] = set()

FASTAPI_ROUTING = {
    "APIRoute", "APIRouter", "APIWebSocketRoute", "ASGIApp", "AppType", "BaseRoute",
    "DecoratedCallable", "Default", "DefaultPlaceholder", "Dependant", "EndpointContext",
    "EventSourceResponse", "FastAPIError", "HTTPException", "IncEx", "JSONResponse",
    "KEEPALIVE_COMMENT", "Lifespan", "MAX_BODY_SIZE_SCOPE_KEY", "Match", "Middleware",
    "ModelField", "Mount", "NoMatchFound", "PlainTextResponse", "Receive", "RedirectResponse",
    "Request", "RequestValidationError", "Response", "ResponseValidationError", "Scope", "Send",
    "ServerSentEvent", "StaticFiles", "StreamingResponse", "URL", "URLPath", "Undefined",
    "WebSocket", "WebSocketRequestValidationError", "compile_path", "create_model_field",
    "format_sse_event", "generate_unique_id", "get_dependant", "get_name",
    "get_parameterless_sub_dependant", "get_request_handler", "get_route_path",
    "get_stream_item_type", "get_typed_return_annotation", "get_value_or_default",
    "get_websocket_app", "is_async_callable", "is_body_allowed_for_status_code",
    "iterate_in_threadpool", "jsonable_encoder", "lenient_issubclass", "params",
    "request_response", "routing", "run_endpoint_function", "run_in_threadpool",
    "serialize_response", "websocket_session", "wrap_app_handling_exceptions",
    "_PING_INTERVAL", "_merge_lifespan_context",
    # FastAPI 0.165's internals that extensions import (see docs/extensions.md)
    "RouteContext", "SolvedDependency", "_EffectiveRouteContext", "_IncludedRouter",
    "get_body_limit_error", "get_body_size_limit", "iter_route_contexts", "solve_dependencies",
    "validate_max_body_size", "wrap_app_with_body_limit", "_get_body_field",
    "_get_flat_body_params", "_should_embed_body_fields", "_is_gen_callable",
    "_is_async_gen_callable", "_is_coroutine_callable", "_validate_form_limits", "_FormLimits",
}  # fmt: skip
#: Every name of FastAPI 0.165's routing module is in aster.
FASTAPI_ROUTING_MISSING: set[str] = set()

STARLETTE_RESPONSES = {
    "AsyncContentStream", "BackgroundTask", "ClientDisconnect", "Content", "ContentStream",
    "FileResponse", "HTMLResponse", "Headers", "JSONResponse", "MalformedRangeHeader",
    "Message", "MutableHeaders", "PlainTextResponse", "RangeNotSatisfiable", "Receive",
    "RedirectResponse", "Response", "Scope", "Send", "StreamingResponse", "SyncContentStream",
    "URL", "iterate_in_threadpool",
}  # fmt: skip
FASTAPI_RESPONSES = {
    "EventSourceResponse", "FastAPIDeprecationWarning", "FileResponse", "HTMLResponse",
    "JSONResponse", "ORJSONResponse", "PlainTextResponse", "RedirectResponse", "Response",
    "StreamingResponse", "UJSONResponse",
}  # fmt: skip

STARLETTE_APPLICATIONS = {
    "ASGIApp", "AppType", "BaseRoute", "ExceptionHandler", "ExceptionMiddleware", "Lifespan",
    "Middleware", "Receive", "Request", "RequestBodyLimitMiddleware", "Response", "Router",
    "Scope", "Send", "ServerErrorMiddleware", "Starlette", "State", "URLPath",
}  # fmt: skip

#: FastAPI's modules only: a Starlette face must not offer them.
FASTAPI_ONLY = {
    "routing": {"APIRoute", "APIRouter", "APIWebSocketRoute", "get_request_handler"},
    "responses": {"EventSourceResponse", "ORJSONResponse", "UJSONResponse"},
    "applications": {"FastAPI"},
    "exceptions": {"RequestValidationError", "FastAPIError"},
}


def _missing(module: Any, names: set[str]) -> list[str]:
    return sorted(name for name in names if not hasattr(module, name))


def test_starlette_and_fastapi_routing_are_two_modules() -> None:
    import fastapi.routing
    import starlette.routing

    assert starlette.routing is aster._starlette_routing
    assert fastapi.routing is aster.routing
    assert fastapi.routing.routing is starlette.routing  # FastAPI's module imports Starlette's
    assert fastapi.routing.Mount is starlette.routing.Mount
    assert fastapi.routing.BaseRoute is starlette.routing.BaseRoute
    assert fastapi.routing.request_response is not starlette.routing.request_response
    assert fastapi.routing.websocket_session is not starlette.routing.websocket_session


@pytest.mark.parametrize(
    ("path", "expected", "known_missing"),
    [
        ("starlette.routing", STARLETTE_ROUTING, STARLETTE_ROUTING_MISSING),
        ("fastapi.routing", FASTAPI_ROUTING, FASTAPI_ROUTING_MISSING),
        ("starlette.responses", STARLETTE_RESPONSES, set()),
        ("fastapi.responses", FASTAPI_RESPONSES, set()),
        ("starlette.applications", STARLETTE_APPLICATIONS, set()),
        ("starlette.exceptions", {"HTTPException", "WebSocketException"}, set()),
    ],
)
def test_each_face_has_the_real_modules_names(
    path: str, expected: set[str], known_missing: set[str]
) -> None:
    module = __import__(path, fromlist=["_"])
    assert _missing(module, expected) == []
    assert _missing(module, known_missing) == sorted(known_missing)  # drop them when added


@pytest.mark.parametrize("name", sorted(FASTAPI_ONLY))
def test_starlette_faces_have_none_of_fastapis_names(name: str) -> None:
    starlette_module = __import__(f"starlette.{name}", fromlist=["_"])
    fastapi_module = __import__(f"fastapi.{name}", fromlist=["_"])
    assert _missing(fastapi_module, FASTAPI_ONLY[name]) == []
    assert _missing(starlette_module, FASTAPI_ONLY[name]) == sorted(FASTAPI_ONLY[name])


def test_starlette_http_exception_is_the_base_of_fastapis() -> None:
    import fastapi.exceptions
    import starlette.exceptions

    assert fastapi.exceptions.HTTPException is not starlette.exceptions.HTTPException
    assert issubclass(fastapi.exceptions.HTTPException, starlette.exceptions.HTTPException)
    assert issubclass(
        fastapi.exceptions.WebSocketException, starlette.exceptions.WebSocketException
    )


def test_starlette_app_and_fastapi_app() -> None:
    import fastapi.applications
    import starlette.applications

    assert issubclass(fastapi.applications.FastAPI, starlette.applications.Starlette)
    assert fastapi.applications.Starlette is starlette.applications.Starlette


def _stack_keys_seen(request_response: Any) -> tuple[int, bytes, list[str]]:
    seen: list[str] = []

    def endpoint(request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        seen.extend(
            key
            for key in ("fastapi_inner_astack", "fastapi_function_astack")
            if key in request.scope
        )
        return PlainTextResponse("ok")

    result = asyncio.run(call(request_response(endpoint), make_scope()))
    return result.status, result.body, seen


def test_starlette_request_response_opens_no_exit_stacks() -> None:
    from starlette.routing import request_response

    assert _stack_keys_seen(request_response) == (200, b"ok", [])


def test_fastapi_request_response_opens_both_exit_stacks() -> None:
    from fastapi.routing import request_response

    assert _stack_keys_seen(request_response) == (
        200,
        b"ok",
        ["fastapi_inner_astack", "fastapi_function_astack"],
    )


def test_fastapi_request_response_closes_the_function_stack_before_responding() -> None:
    from fastapi.routing import request_response
    from starlette.responses import PlainTextResponse

    events: list[str] = []

    async def endpoint(request: Any) -> Any:
        request.scope["fastapi_function_astack"].callback(events.append, "function closed")
        request.scope["fastapi_inner_astack"].callback(events.append, "request closed")
        return PlainTextResponse("ok")

    async def main() -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                events.append("response started")
            sent.append(message)

        await request_response(endpoint)(make_scope(), receive, send)

    asyncio.run(main())
    assert events == ["function closed", "response started", "request closed"]


def test_fastapi_websocket_session_opens_both_exit_stacks_starlettes_none() -> None:
    import fastapi.routing
    import starlette.routing

    async def session_keys(websocket_session: Any) -> list[str]:
        seen: list[str] = []

        async def endpoint(websocket: Any) -> None:
            seen.extend(k for k in websocket.scope if k.startswith("fastapi_"))
            await websocket.accept()
            await websocket.close()

        messages = [{"type": "websocket.connect"}]
        scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            pass

        await websocket_session(endpoint)(scope, receive, send)
        return sorted(seen)

    assert asyncio.run(session_keys(starlette.routing.websocket_session)) == []
    assert asyncio.run(session_keys(fastapi.routing.websocket_session)) == [
        "fastapi_function_astack",
        "fastapi_inner_astack",
    ]


def test_ping_interval_set_on_fastapi_routing_is_the_one_streams_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fastapi.routing

    assert fastapi.routing._PING_INTERVAL == aster.sse._PING_INTERVAL == 15.0
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.05)
    assert aster.sse._PING_INTERVAL == 0.05
    monkeypatch.undo()
    assert aster.sse._PING_INTERVAL == fastapi.routing._PING_INTERVAL == 15.0


def test_shared_modules_are_one_module_for_both_names() -> None:
    for path in compat.SHARED:
        fastapi_module = __import__(f"fastapi.{path}", fromlist=["_"])
        starlette_module = __import__(f"starlette.{path}", fromlist=["_"])
        assert fastapi_module is starlette_module, path
        assert f"starlette.{path}" not in compat.EXPLICIT


def test_a_starlette_app_loads_nothing_of_fastapis_layer() -> None:
    """``starlette.*`` imports stay in the Starlette layer: no pydantic, no FastAPI modules."""
    code = (
        "import sys\n"
        "from aster import compat\n"
        "compat.install()\n"
        "import starlette.applications, starlette.routing, starlette.responses\n"
        "import starlette.exceptions, starlette.requests, starlette.websockets\n"
        "import starlette.middleware.cors, starlette.middleware.gzip, starlette.staticfiles\n"
        "app = starlette.applications.Starlette(routes=[starlette.routing.Route('/', "
        "lambda r: starlette.responses.PlainTextResponse('hi'))])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('aster', 'pydantic')))))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    fastapi_level = {
        "aster.api_routing",
        "aster.api_router",
        "aster.applications",
        "aster.dependencies.plan",
        "aster.exceptions",
        "aster.handlers",
        "aster.params",
        "aster.routing",
        "aster.responses",
        "aster.sse",
        "pydantic",
    }
    assert "aster._starlette_routing" in output
    assert sorted(fastapi_level.intersection(output)) == []
