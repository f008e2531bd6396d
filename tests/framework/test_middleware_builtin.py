"""The built-in middlewares (CORS, GZip, TrustedHost, HTTPSRedirect) inside FastAPI apps.

Every status, body and header list is Starlette 1.10's, checked side by side with
``starlette.middleware.*`` on the same ASGI messages.  One addition over Starlette:
a 500 from ``ServerErrorMiddleware`` keeps the CORS headers (so a browser can read it).
Socket-level checks with curl are in tests/test_middleware_server.py.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest

from aster import FastAPI, HTTPException, Request, WebSocket
from aster.middleware.cors import CORSMiddleware
from aster.middleware.gzip import GZipMiddleware
from aster.middleware.httpsredirect import HTTPSRedirectMiddleware
from aster.middleware.trustedhost import TrustedHostMiddleware
from aster.responses import PlainTextResponse, Response, StreamingResponse
from aster.testclient import TestClient, WebSocketDenialResponse

ORIGIN = "https://app.example"
PREFLIGHT_VARY = (
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)
SAFELISTED = "Accept, Accept-Language, Content-Language, Content-Type"
TEXT_PLAIN = "text/plain; charset=utf-8"


# --- CORS -------------------------------------------------------------------------------------


def cors_app(**options: Any) -> FastAPI:
    """Routes: a plain answer, one with its own Vary headers, an OPTIONS endpoint, two failures."""
    app = FastAPI()
    app.add_middleware(CORSMiddleware, **options)
    app.state.options_calls = 0

    @app.get("/plain")
    async def plain() -> PlainTextResponse:
        return PlainTextResponse("plain")

    @app.get("/varied")
    async def varied() -> Response:
        headers = [(b"vary", b"Accept-Encoding"), (b"vary", b"Cookie")]
        response = PlainTextResponse("varied")
        response.raw_headers[:0] = headers
        return response

    @app.options("/plain")
    async def options_plain() -> PlainTextResponse:
        app.state.options_calls += 1
        return PlainTextResponse("endpoint options")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(status_code=418, detail="short and stout")

    return app


def preflight(
    client: TestClient,
    method: str = "GET",
    headers: str | None = None,
    origin: str = ORIGIN,
    **extra: str,
) -> Any:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method, **extra}
    if headers is not None:
        request_headers["Access-Control-Request-Headers"] = headers
    return client.options("/plain", headers=request_headers)


@pytest.fixture
def configured() -> TestClient:
    app = cors_app(
        allow_origins=[ORIGIN], allow_methods=["GET", "POST"], allow_headers=["X-Token"],
        allow_credentials=True, expose_headers=["X-Ctx", "X-Other"], max_age=321,
    )  # fmt: skip
    return TestClient(app, raise_server_exceptions=False)


def answer(*cors: tuple[str, str], length: int = 2) -> list[tuple[str, str]]:
    """A preflight answer's headers: Vary, then ``cors``, then the plain-text body's."""
    body = [("content-length", str(length)), ("content-type", TEXT_PLAIN)]
    return [("vary", PREFLIGHT_VARY), *cors, *body]


PLAIN = [("content-length", "5"), ("content-type", TEXT_PLAIN)]  # /plain's own headers
CONFIGURED_PREFLIGHT = [
    ("access-control-allow-methods", "GET, POST"),
    ("access-control-max-age", "321"),
    ("access-control-allow-headers", f"{SAFELISTED}, X-Token"),
    ("access-control-allow-credentials", "true"),
]
CREDENTIALS = ("access-control-allow-credentials", "true")
EXPOSE = ("access-control-expose-headers", "X-Ctx, X-Other")
ALLOW_ORIGIN = ("access-control-allow-origin", ORIGIN)
VARY_ORIGIN = ("vary", "Origin")


def test_preflight_allowed_exact_answer(configured: TestClient) -> None:
    # Requested header names are compared case-insensitively, spaces stripped.
    response = preflight(configured, "POST", "x-TOKEN,Accept ,  CONTENT-type")
    assert (response.status_code, response.text) == (200, "OK")
    assert response.headers.multi_items() == answer(*CONFIGURED_PREFLIGHT, ALLOW_ORIGIN)


def test_preflight_never_reaches_the_endpoint(configured: TestClient) -> None:
    """A preflight is answered by the middleware; a plain OPTIONS (no request method) is not."""
    app = configured.app
    assert preflight(configured).status_code == 200
    assert app.state.options_calls == 0  # type: ignore[attr-defined]
    response = configured.options("/plain", headers={"Origin": ORIGIN})
    assert (response.status_code, response.text) == (200, "endpoint options")
    assert app.state.options_calls == 1  # type: ignore[attr-defined]
    assert response.headers["access-control-allow-origin"] == ORIGIN


# fmt: off
@pytest.mark.parametrize(("origin", "method", "headers", "body"), [
    ("https://evil.example", "GET", None, "Disallowed CORS origin"),
    (ORIGIN, "DELETE", None, "Disallowed CORS method"),
    (ORIGIN, "get", None, "Disallowed CORS method"),  # methods are case-sensitive
    (ORIGIN, "GET", "X-Token, X-Forbidden", "Disallowed CORS headers"),
    (ORIGIN, "GET", "", "Disallowed CORS headers"),
    ("https://evil.example", "PUT", "X-Forbidden", "Disallowed CORS origin, method, headers"),
])
# fmt: on
def test_preflight_refused(
    configured: TestClient, origin: str, method: str, headers: str | None, body: str
) -> None:
    response = preflight(configured, method, headers, origin=origin)
    assert (response.status_code, response.text) == (400, body)
    # An allowed origin is echoed even when something else failed.
    echoed = [ALLOW_ORIGIN] if origin == ORIGIN else []
    assert response.headers.multi_items() == answer(
        *CONFIGURED_PREFLIGHT, *echoed, length=len(body)
    )


def test_defaults_allow_only_get_and_safelisted_headers() -> None:
    client = TestClient(cors_app(allow_origins=[ORIGIN]))
    assert preflight(client, "GET", "Accept").headers.multi_items() == answer(
        ("access-control-allow-methods", "GET"),
        ("access-control-max-age", "600"),
        ("access-control-allow-headers", SAFELISTED),
        ALLOW_ORIGIN,
    )
    refused = preflight(client, "POST", "X-Token")
    assert (refused.status_code, refused.text) == (400, "Disallowed CORS method, headers")


def test_wildcard_origin_without_credentials_answers_star() -> None:
    client = TestClient(cors_app(allow_origins=["*"], allow_methods=["*"]))
    response = preflight(client, "QUERY", origin="https://anyone.example")
    assert response.status_code == 200
    assert response.headers.multi_items() == answer(
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY"),
        ("access-control-max-age", "600"),
        ("access-control-allow-headers", SAFELISTED),
    )
    simple = client.get("/plain", headers={"Origin": "https://anyone.example"})
    assert simple.headers.multi_items() == [
        *PLAIN, ("access-control-allow-origin", "*"), VARY_ORIGIN
    ]


def test_wildcard_origin_with_credentials_echoes_the_origin() -> None:
    """``*`` is not allowed with credentials: the requesting origin is echoed instead."""
    client = TestClient(cors_app(allow_origins=["*"], allow_credentials=True))
    origin = ("access-control-allow-origin", "https://anyone.example")
    response = preflight(client, origin="https://anyone.example")
    assert response.headers.multi_items() == answer(
        ("access-control-allow-methods", "GET"),
        ("access-control-max-age", "600"),
        ("access-control-allow-headers", SAFELISTED),
        CREDENTIALS,
        origin,
    )
    simple = client.get("/plain", headers={"Origin": "https://anyone.example"})
    assert simple.headers.multi_items() == [*PLAIN, origin, CREDENTIALS, VARY_ORIGIN]


def test_wildcard_headers_mirror_the_request() -> None:
    client = TestClient(cors_app(allow_origins=[ORIGIN], allow_headers=["*"]))
    response = preflight(client, "GET", "X-Anything,  x-other")
    assert response.status_code == 200
    assert response.headers.multi_items() == answer(
        ("access-control-allow-methods", "GET"),
        ("access-control-max-age", "600"),
        ALLOW_ORIGIN,
        ("access-control-allow-headers", "X-Anything,  x-other"),
    )
    # Nothing requested, nothing to mirror: no Access-Control-Allow-Headers at all.
    assert "access-control-allow-headers" not in preflight(client, "GET").headers


def test_origin_regex_must_match_the_whole_origin() -> None:
    client = TestClient(cors_app(allow_origin_regex=r"https://[a-z]+\.example\.org"))
    allowed = "https://api.example.org"
    assert preflight(client, origin=allowed).headers["access-control-allow-origin"] == allowed
    simple = client.get("/plain", headers={"Origin": allowed})
    assert simple.headers.multi_items() == [
        *PLAIN, ("access-control-allow-origin", allowed), VARY_ORIGIN
    ]
    for origin in ("https://api.example.org.evil", "http://api.example.org", "https://a.b.example.org"):
        refused = preflight(client, origin=origin)
        assert (refused.status_code, refused.text) == (400, "Disallowed CORS origin")
        simple = client.get("/plain", headers={"Origin": origin})
        assert simple.headers.multi_items() == [*PLAIN, VARY_ORIGIN]


# fmt: off
@pytest.mark.parametrize(("origin", "cors_headers"), [
    (ORIGIN, [CREDENTIALS, EXPOSE, ALLOW_ORIGIN]),
    # As in Starlette, the origin-independent headers are still added; the browser blocks it.
    ("https://evil.example", [CREDENTIALS, EXPOSE]),
    (None, []),  # no CORS headers, but Vary: the answer depends on Origin
])
@pytest.mark.parametrize(("path", "status", "body"), [
    ("/plain", 200, "plain"),
    # The 500 comes from ServerErrorMiddleware, outside CORS, yet looks decorated by it.
    ("/boom", 500, "Internal Server Error"),
])
# fmt: on
def test_simple_request_and_its_500(
    configured: TestClient,
    origin: str | None,
    cors_headers: list[tuple[str, str]],
    path: str,
    status: int,
    body: str,
) -> None:
    response = configured.get(path, headers={"Origin": origin} if origin else {})
    assert (response.status_code, response.text) == (status, body)
    own = [("content-length", str(len(body))), ("content-type", TEXT_PLAIN)]
    assert response.headers.multi_items() == [*own, *cors_headers, VARY_ORIGIN]


def test_vary_headers_are_merged_into_one(configured: TestClient) -> None:
    response = configured.get("/varied", headers={"Origin": ORIGIN})
    assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie, Origin"]
    assert response.headers.multi_items()[0] == ("vary", "Accept-Encoding, Cookie, Origin")


def test_private_network_access() -> None:
    headers = {"Access-Control-Request-Private-Network": "true"}
    allowed = TestClient(cors_app(allow_origins=[ORIGIN], allow_private_network=True))
    response = preflight(allowed, **headers)
    assert response.status_code == 200
    assert response.headers.multi_items()[-3:] == [
        ("access-control-allow-private-network", "true"),
        ("content-length", "2"),
        ("content-type", TEXT_PLAIN),
    ]
    refused = preflight(TestClient(cors_app(allow_origins=[ORIGIN])), **headers)
    assert (refused.status_code, refused.text) == (400, "Disallowed CORS private-network")
    assert "access-control-allow-private-network" not in refused.headers


def test_500_from_a_custom_handler_keeps_the_cors_headers() -> None:
    app = cors_app(allow_origins=[ORIGIN])

    @app.exception_handler(Exception)
    async def handler(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(f"handled {exc}", status_code=500, headers={"Vary": "Accept"})

    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/boom", headers={"Origin": ORIGIN})
    assert (response.status_code, response.text) == (500, "handled boom")
    assert response.headers.multi_items() == [
        ("vary", "Accept, Origin"),
        ("content-length", "12"),
        ("content-type", TEXT_PLAIN),
        ("access-control-allow-origin", ORIGIN),
    ]


def test_500_is_still_raised_to_the_test() -> None:
    client = TestClient(cors_app(allow_origins=[ORIGIN]))
    with pytest.raises(RuntimeError, match="boom"):
        client.get("/boom", headers={"Origin": ORIGIN})


def test_handled_http_exception_is_decorated(configured: TestClient) -> None:
    response = configured.get("/teapot", headers={"Origin": ORIGIN})
    assert (response.status_code, response.json()) == (418, {"detail": "short and stout"})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["vary"] == "Origin"


# --- GZip -------------------------------------------------------------------------------------


LARGE = "".join(f"line {n:04d} of a compressible body\n" for n in range(40))  # 1280 bytes
CHUNKS = [f"chunk {n} {'=' * 50}\n" for n in range(3)]
GZIPPED = ("content-encoding", "gzip")
VARY_ACCEPT = ("vary", "Accept-Encoding")
TYPE_PLAIN = ("content-type", TEXT_PLAIN)
EVENTS = [f"data: {n} {'.' * 600}\n\n" for n in range(3)]


def gzip_app(**options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(GZipMiddleware, **options)

    @app.get("/text/{size}")
    async def text(size: int) -> PlainTextResponse:
        return PlainTextResponse("a" * size)

    @app.get("/large")
    async def large() -> PlainTextResponse:
        return PlainTextResponse(LARGE, headers={"Vary": "Origin"})

    async def endless() -> AsyncIterator[str]:
        n = 0
        while True:
            yield f"tick {n}\n"
            n += 1

    async def listed(items: list[str]) -> AsyncIterator[str]:
        for item in items:
            yield item

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(listed(CHUNKS), media_type="text/plain")

    @app.get("/endless")
    async def ticks() -> StreamingResponse:
        return StreamingResponse(endless(), media_type="text/plain")

    @app.get("/sse")
    async def sse() -> StreamingResponse:
        return StreamingResponse(listed(EVENTS), media_type="text/event-stream")

    @app.get("/typed")
    async def typed(media_type: str, status: int = 200, encoding: str | None = None) -> Response:
        headers = {"Content-Encoding": encoding} if encoding else None
        return Response(LARGE.encode(), status, headers, media_type)

    return app


@pytest.fixture
def gz() -> TestClient:
    return TestClient(gzip_app())


def raw_get(
    client: TestClient, path: str, accept: str | None = "gzip"
) -> tuple[int, list[tuple[str, str]], bytes]:
    """GET without httpx's decoding: (status, headers, bytes as sent)."""
    headers = {} if accept is None else {"Accept-Encoding": accept}
    with client.stream("GET", path, headers=headers) as response:
        return response.status_code, response.headers.multi_items(), b"".join(response.iter_raw())


def test_large_body_is_gzipped_with_exact_length(gz: TestClient) -> None:
    status, headers, body = raw_get(gz, "/large")
    assert status == 200
    assert gzip.decompress(body) == LARGE.encode()
    vary = ("vary", "Origin, Accept-Encoding")  # merged with the app's own Vary
    assert headers == [vary, ("content-length", str(len(body))), TYPE_PLAIN, GZIPPED]
    assert len(body) < len(LARGE) // 4
    assert gz.get("/large").text == LARGE  # what a client that decodes sees


# fmt: off
@pytest.mark.parametrize(("minimum", "size", "compressed"), [
    (500, 0, False), (500, 499, False), (500, 500, True), (500, 501, True),
    (10, 9, False), (10, 10, True),
])
# fmt: on
def test_minimum_size_boundary(minimum: int, size: int, compressed: bool) -> None:
    status, headers, body = raw_get(TestClient(gzip_app(minimum_size=minimum)), f"/text/{size}")
    if compressed:
        assert headers == [("content-length", str(len(body))), TYPE_PLAIN, VARY_ACCEPT, GZIPPED]
        assert gzip.decompress(body) == b"a" * size
    else:  # untouched, and no Vary: too small to ever be compressed
        assert headers == [("content-length", str(size)), ("content-type", TEXT_PLAIN)]
        assert body == b"a" * size


@pytest.mark.parametrize("accept", [None, "identity", "br, deflate", "GZIP"])
def test_no_gzip_in_accept_encoding(accept: str | None) -> None:
    """Not compressed, but labelled ``Vary: Accept-Encoding``: it could have been.

    The check is a case-sensitive substring test, as in Starlette.
    """
    client = TestClient(gzip_app())
    del client.headers["accept-encoding"]
    status, headers, body = raw_get(client, "/text/600", accept)
    assert (status, body) == (200, b"a" * 600)
    assert headers == [("content-length", "600"), TYPE_PLAIN, VARY_ACCEPT]


def test_stream_is_gzipped_without_content_length(gz: TestClient) -> None:
    status, headers, body = raw_get(gz, "/stream")
    assert status == 200
    assert headers == [TYPE_PLAIN, VARY_ACCEPT, GZIPPED]
    assert gzip.decompress(body) == "".join(CHUNKS).encode()


def test_stream_chunks_are_decodable_as_they_arrive(gz: TestClient) -> None:
    """Each chunk is sync-flushed: an endless stream can be decoded chunk by chunk."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with gz.stream("GET", "/endless", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert "content-length" not in response.headers
        raw = response.iter_raw()
        decoded = [decoder.decompress(next(raw)) for _ in range(3)]
    assert decoded == [b"tick 0\n", b"tick 1\n", b"tick 2\n"]


@pytest.mark.parametrize("accept", ["gzip", None])
def test_event_stream_is_never_compressed(accept: str | None) -> None:
    client = TestClient(gzip_app())
    del client.headers["accept-encoding"]
    status, headers, body = raw_get(client, "/sse", accept)
    assert status == 200
    assert headers == [("content-type", "text/event-stream; charset=utf-8")]  # no Vary either
    assert body == "".join(EVENTS).encode()


def test_event_stream_is_not_buffered(gz: TestClient) -> None:
    with gz.stream("GET", "/sse", headers={"Accept-Encoding": "gzip"}) as response:
        first = next(response.iter_raw())
    assert first == EVENTS[0].encode()


EXCLUDED = ["image/png", "image/jpeg", "video/mp4", "audio/ogg", "application/zip"]
EXCLUDED += ["application/grpc+proto", "font/woff2"]


@pytest.mark.parametrize("media_type", EXCLUDED)
def test_excluded_media_types_are_untouched(gz: TestClient, media_type: str) -> None:
    status, headers, body = raw_get(gz, f"/typed?media_type={quote(media_type)}")
    assert (status, body) == (200, LARGE.encode())
    assert headers == [("content-length", str(len(LARGE))), ("content-type", media_type)]


@pytest.mark.parametrize(("query", "status"), [("encoding=br", 200), ("status=206", 206)])
def test_encoded_and_partial_are_untouched(gz: TestClient, query: str, status: int) -> None:
    """An already encoded body, or a part of one, is sent as is (and without Vary)."""
    answer = raw_get(gz, f"/typed?media_type=text/plain&{query}")
    encoding = [("content-encoding", "br")] if "br" in query else []
    length_and_type = [("content-length", str(len(LARGE))), ("content-type", TEXT_PLAIN)]
    assert answer == (status, [*encoding, *length_and_type], LARGE.encode())


def test_custom_excluded_media_types() -> None:
    client = TestClient(gzip_app(exclude_content_types=("text/csv; charset=utf-8",)))
    csv = raw_get(client, "/typed?media_type=text/csv")
    assert csv[2] == LARGE.encode()
    assert "content-encoding" not in dict(csv[1])
    # The defaults are replaced, not extended.
    assert dict(raw_get(client, "/typed?media_type=image/png")[1])["content-encoding"] == "gzip"


# --- TrustedHost ------------------------------------------------------------------------------


def host_app(allowed_hosts: list[str] | None, **options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts, **options)

    @app.get("/where")
    async def where(request: Request) -> dict[str, str]:
        return {"url": str(request.url)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return app


HOSTS = ["example.com", "*.example.org", "[::1]"]
INVALID = [("content-length", "19"), ("content-type", TEXT_PLAIN)]


# fmt: off
@pytest.mark.parametrize("host", [
    "example.com", "EXAMPLE.com", "example.com:8000", "a.example.org", "a.b.example.org",
    "[::1]", "[::1]:9",
])
# fmt: on
def test_trusted_hosts_pass(host: str) -> None:
    response = TestClient(host_app(HOSTS)).get("/where", headers={"Host": host})
    assert (response.status_code, response.json()) == (200, {"url": f"http://{host}/where"})


# fmt: off
@pytest.mark.parametrize("host", [
    "evil.com", "example.org", "xexample.org", "example.com.evil", "exa mple.com", "",
    "example.com:x", "[::g]",
])
# fmt: on
def test_untrusted_hosts_are_400(host: str) -> None:
    response = TestClient(host_app(HOSTS)).get("/where", headers={"Host": host})
    assert (response.status_code, response.text) == (400, "Invalid host header")
    assert response.headers.multi_items() == INVALID


def test_www_redirect_keeps_path_port_and_query() -> None:
    client = TestClient(host_app(["www.example.com"]))
    response = client.get(
        "/where?a=1&b=%20", headers={"Host": "example.com:8000"}, follow_redirects=False
    )
    assert (response.status_code, response.content) == (307, b"")
    assert response.headers.multi_items() == [
        ("content-length", "0"),
        ("location", "http://www.example.com:8000/where?a=1&b=%20"),
    ]
    assert client.get("/where", headers={"Host": "www.example.com"}).status_code == 200


def test_no_www_redirect() -> None:
    """Not when disabled, nor for a wildcard: only an exact ``www.`` name redirects."""
    for app in (host_app(["www.example.com"], www_redirect=False), host_app(["*.example.com"])):
        response = TestClient(app).get("/where", headers={"Host": "example.com"})
        assert (response.status_code, response.text) == (400, "Invalid host header")


def test_any_host_by_default() -> None:
    for allowed in (None, ["*"]):
        response = TestClient(host_app(allowed)).get("/where", headers={"Host": "anything.invalid"})
        assert response.status_code == 200


@pytest.mark.parametrize("pattern", ["example.*", "*example.com", "a.*.example.com", "**.x.com"])
def test_bad_wildcard_patterns_are_refused(pattern: str) -> None:
    message = re.escape("Domain wildcard patterns must be like '*.example.com'.")
    with pytest.raises(AssertionError, match=message):
        TrustedHostMiddleware(PlainTextResponse("x"), allowed_hosts=[pattern])


def test_websocket_host_is_checked() -> None:
    client = TestClient(host_app(HOSTS))
    with client.websocket_connect("/ws", headers={"Host": "a.example.org"}) as session:
        assert session.receive_text() == "hello"
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/ws", headers={"Host": "evil.com"}):
            pass  # pragma: no cover
    assert (denied.value.status_code, denied.value.content) == (400, b"Invalid host header")


# --- HTTPSRedirect ----------------------------------------------------------------------------


def https_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(HTTPSRedirectMiddleware)

    @app.api_route("/here", methods=["GET", "POST"])
    async def here(request: Request) -> dict[str, str]:
        return {"scheme": request.url.scheme}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    return app


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_http_is_redirected_with_307(method: str) -> None:
    """307, not 301/302: the method and body are kept on the retry."""
    response = TestClient(https_app()).request(method, "/here?q=a%20b&r=1", follow_redirects=False)
    assert (response.status_code, response.content) == (307, b"")
    assert response.headers.multi_items() == [
        ("content-length", "0"),
        ("location", "https://testserver/here?q=a%20b&r=1"),
    ]


# fmt: off
@pytest.mark.parametrize(("host", "location"), [
    ("example.com", "https://example.com/here"),
    ("example.com:80", "https://example.com/here"),
    ("example.com:443", "https://example.com/here"),
    ("EXAMPLE.com:80", "https://example.com/here"),
    ("Example.com:8080", "https://Example.com:8080/here"),
    ("example.com:8443", "https://example.com:8443/here"),
    ("[::1]:8080", "https://[::1]:8080/here"),
    # Deliberately not Starlette 1.10, which answers ``https://::1/here`` (an invalid URL).
    ("[::1]:80", "https://[::1]/here"),
])
# fmt: on
def test_port_handling(host: str, location: str) -> None:
    """80 and 443 are dropped (the https default applies); other ports are kept."""
    response = TestClient(https_app()).get("/here", headers={"Host": host}, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == location


def test_https_passes_through_and_the_redirect_is_followed() -> None:
    response = TestClient(https_app(), base_url="https://testserver").get("/here")
    assert (response.status_code, response.json()) == (200, {"scheme": "https"})
    assert response.history == []
    response = TestClient(https_app()).get("/here")
    assert (response.status_code, response.json()) == (200, {"scheme": "https"})
    assert [r.status_code for r in response.history] == [307]


def test_websocket_is_redirected_to_wss() -> None:
    with pytest.raises(WebSocketDenialResponse) as denied:
        with TestClient(https_app()).websocket_connect("/ws?x=1"):
            pass  # pragma: no cover
    assert (denied.value.status_code, denied.value.content) == (307, b"")
    assert denied.value.headers["location"] == "wss://testserver/ws?x=1"
    with TestClient(https_app()).websocket_connect("wss://testserver/ws") as session:
        session.close()
