"""Every server example of the seeds (../shared/seeds/*.txt), run by ``aster run``.

The examples are in tests/apps/seeds/, as the articles wrote them with only
``fastapi`` -> ``aster`` (and ``starlette.middleware.base`` -> ``aster.middleware.base``)
in their imports.  Their names are ``seed_<seed file>_<what>.py``:

- 000 (ASGI sync/async): ``async_endpoint`` (httpx to https://api.example.com/data),
  ``sync_endpoint`` (time.sleep(5)), ``process_time_middleware`` (BaseHTTPMiddleware).
- 001 (FastAPI async): ``async_route``, ``process_time_middleware`` (``@app.middleware``),
  ``db_data`` (asyncpg, against a throwaway PostgreSQL), ``external_api`` (httpx),
  ``cpu_task`` (run_in_executor), ``error_handling``.
- 002 (simple async API): ``read_root``.

The seeds' other snippets (plain asyncio, requests and aiohttp scripts) are not servers.

No network: the httpx examples reach a local fake upstream through the environment
only.  ``HTTPS_PROXY`` names a CONNECT proxy that tunnels to a local TLS server whose
certificate for api.example.com comes from a trustme CA, and ``SSL_CERT_FILE`` makes
httpx trust that CA.
"""

from __future__ import annotations

import concurrent.futures
import http.server
import json
import select
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme

from bench.postgres import MYTABLE_ROWS, Cluster
from tests.support import serve

SEEDS = "tests.apps.seeds"


def app(name: str) -> str:
    return f"{SEEDS}.{name}:app"


def timed_get(url: str, timeout: float = 15) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = httpx.get(url, timeout=timeout)
    return response, time.monotonic() - start


# -- the fake upstream: a TLS server for api.example.com behind a CONNECT proxy ----------


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {"source": "fake upstream", "path": self.path, "host": self.headers["host"]}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _ConnectProxy(socketserver.BaseRequestHandler):
    """Answers ``CONNECT host:443`` by tunnelling to the local TLS server."""

    server: _ProxyServer

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        self.server.seen.append(f"{method} {target}")
        if method != "CONNECT" or target != "api.example.com:443":
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            return
        upstream = socket.create_connection(("127.0.0.1", self.server.upstream_port))
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        sockets = [self.request, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 10)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.request else self.request).sendall(data)
        finally:
            upstream.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _ConnectProxy)
        self.upstream_port = upstream_port
        self.seen: list[str] = []


@pytest.fixture(scope="module")
def fake_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("api.example.com").configure_cert(context)
    tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    tls.daemon_threads = True
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    proxy = _ProxyServer(tls.server_address[1])
    threads = [
        threading.Thread(target=server.serve_forever, daemon=True) for server in (tls, proxy)
    ]
    for thread in threads:
        thread.start()
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    env = {
        "HTTPS_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "ALL_PROXY": "",
        "all_proxy": "",
        "NO_PROXY": "",
        "no_proxy": "",
        "SSL_CERT_FILE": str(ca_file),
        "SSL_CERT_DIR": "",
    }
    try:
        yield {"env": env, "proxy": proxy}
    finally:
        for server in (tls, proxy):
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize(
    ("name", "path"),
    [("seed_0_async_endpoint", "/async-endpoint"), ("seed_1_external_api", "/external-api")],
)
def test_httpx_in_a_route_reaches_the_upstream(
    fake_upstream: dict[str, Any], name: str, path: str
) -> None:
    with serve(app(name), env=fake_upstream["env"]) as server:
        response = httpx.get(server.url + path, timeout=15)
    assert response.status_code == 200, server.log()
    assert response.json() == {
        "source": "fake upstream",
        "path": "/data",
        "host": "api.example.com",
    }
    assert "CONNECT api.example.com:443" in fake_upstream["proxy"].seen


# -- the other examples ----------------------------------------------------------------------


def test_sync_endpoint_sleeps_in_a_thread_without_blocking_the_server() -> None:
    with serve(app("seed_0_sync_endpoint")) as server:
        url = server.url + "/sync-endpoint"
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            start = time.monotonic()
            sleepers = [pool.submit(timed_get, url) for _ in range(3)]
            time.sleep(0.5)
            # While three endpoints sleep in threads, the server still answers at once.
            quick, elapsed = timed_get(server.url + "/nothing-here")
            assert quick.status_code == 404
            assert elapsed < 0.5, elapsed
            results = [future.result() for future in sleepers]
            total = time.monotonic() - start
    for response, took in results:
        assert response.status_code == 200
        assert response.json() == {"message": "This is a synchronous endpoint"}
        assert took >= 5
    assert total < 8, total  # concurrent, not 3 x 5 s


def test_base_http_middleware_adds_process_time() -> None:
    with serve(app("seed_0_process_time_middleware")) as server:
        response = httpx.get(server.url + "/", timeout=10)
    # The example has no routes: the 404 still goes through the middleware.
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert 0 <= float(response.headers["x-process-time"]) < 1


def test_http_middleware_adds_process_time() -> None:
    with serve(app("seed_1_process_time_middleware")) as server:
        response = httpx.get(server.url + "/", timeout=10)
        missing = httpx.get(server.url + "/missing", timeout=10)
    assert (response.status_code, response.json()) == (200, {"Hello": "World"})
    assert 0 <= float(response.headers["x-process-time"]) < 1
    assert missing.status_code == 404
    float(missing.headers["x-process-time"])


def test_async_routes_sleep_one_second_concurrently() -> None:
    cases = [
        ("seed_1_async_route", "/async-route", {"message": "This is an async route"}),
        ("seed_2_read_root", "/", {"Hello": "World"}),
        ("seed_1_error_handling", "/error-handling", {"error": "Something went wrong"}),
    ]
    for name, path, expected in cases:
        with serve(app(name)) as server:
            with concurrent.futures.ThreadPoolExecutor(5) as pool:
                start = time.monotonic()
                results = list(pool.map(timed_get, [server.url + path] * 5))
                total = time.monotonic() - start
        for response, took in results:
            assert (response.status_code, response.json()) == (200, expected), name
            assert 1 <= took < 3, (name, took)
        assert total < 3, (name, total)  # five at once, not 5 x 1 s


def test_cpu_task_in_the_default_executor() -> None:
    with serve(app("seed_1_cpu_task")) as server:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: timed_get(server.url + "/cpu-task"), range(4)))
    for response, _ in results:
        assert (response.status_code, response.json()) == (200, {"result": 499999500000})


def test_db_example_reads_the_rows_from_a_real_postgres(postgres: Any) -> None:
    """The seed names host 127.0.0.1 and no port: libpq's PGPORT (asyncpg honours it)
    points it at the throwaway cluster, unedited."""
    with serve(app("seed_1_db_data"), env={"PGPORT": str(postgres.port)}) as server:
        assert httpx.get(server.url + "/", timeout=10).status_code == 404
        response = httpx.get(server.url + "/db-data", timeout=15)
        assert (response.status_code, response.headers["content-type"]) == (
            200,
            "application/json",
        )
        assert response.json() == MYTABLE_ROWS
        # Each request opens its own connection and closes it: nothing left behind.
        for _ in range(3):
            assert httpx.get(server.url + "/db-data", timeout=15).json()[0]["id"] == 1
        leftover = postgres.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'user'", "mydb"
        )
        assert leftover.strip() == "0"


def test_db_example_answers_500_when_the_database_goes_away() -> None:
    """A cluster of its own, stopped mid-run: the app's error (a 500, logged), never a hung
    worker, and the server keeps serving; started again, the route works again."""
    with Cluster() as pg, serve(app("seed_1_db_data"), env={"PGPORT": str(pg.port)}) as server:
        assert httpx.get(server.url + "/db-data", timeout=15).status_code == 200
        pg.stop()
        started = time.monotonic()
        response = httpx.get(server.url + "/db-data", timeout=15)
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert time.monotonic() - started < 5
        server.wait_for_log("ConnectionRefusedError|Connect call failed")
        assert httpx.get(server.url + "/", timeout=10).status_code == 404  # still serving
        pg.start()
        pg.wait_ready()
        response = httpx.get(server.url + "/db-data", timeout=15)
        assert (response.status_code, len(response.json())) == (200, 3)
