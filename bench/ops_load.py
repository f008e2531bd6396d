"""Background HTTP/1.1 load for the operations scenarios (shutdown, restarts, stalls).

``Load`` runs N concurrent clients in one asyncio loop on a thread of its own, so
the clients do not fight over the GIL: a client sends its next request the moment
the previous response is in.  Every request is recorded with its times and its
outcome, which is what the scenarios count:

* ``ok``: a complete response (``status``, ``body``, and whether it said
  ``Connection: close``);
* ``refused``: the connection was refused (the client then stops: the server is
  going away, as a load balancer would conclude);
* ``failed``: the request was sent (or the connection made) and no complete
  response came: a reset, an early close, or the ``timeout``.

A request sent on a keep-alive connection goes out immediately after the previous
response, so a server that closes that connection without answering it has lost a
request that arrived.  Used by ``tests/test_server_workers.py`` and ``bench/ops.py``
(against aster and uvicorn alike).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass


@dataclass
class Result:
    path: str
    started: float
    ended: float
    outcome: str  # "ok", "refused" or "failed"
    status: int = 0
    body: bytes = b""
    closed: bool = False  # the response said Connection: close
    error: str = ""
    reused: bool = False  # sent on a connection that had served a request already


class Load:
    """``clients`` concurrent clients asking ``paths`` (each client keeps to one path,
    assigned in turn) on ``host:port`` until ``stop()``."""

    def __init__(
        self,
        port: int,
        *,
        clients: int = 10,
        paths: tuple[str, ...] = ("/",),
        keep_alive: bool = True,
        timeout: float = 15.0,
        host: str = "127.0.0.1",
        pause: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.clients = clients
        self.paths = paths
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.pause = pause  # between a client's requests (0: none)
        self.results: list[Result] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self._running = 0

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> list[Result]:
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load clients did not finish"
        return self.results

    @property
    def clients_running(self) -> int:
        return self._running

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Until ``count`` requests got an answer."""
        deadline = time.monotonic() + timeout
        while sum(r.outcome == "ok" for r in self.results) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.summary()} after {timeout} s")
            time.sleep(0.02)

    def summary(self, results: list[Result] | None = None) -> dict[str, int]:
        counts = {"ok": 0, "refused": 0, "failed": 0}
        for result in self.results if results is None else results:
            counts[result.outcome] += 1
        return counts

    def in_flight_at(self, moment: float) -> list[Result]:
        return [r for r in self.results if r.started <= moment < r.ended]

    # -- the clients ------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        paths = itertools.cycle(self.paths)
        await asyncio.gather(*(self._client(next(paths)) for _ in range(self.clients)))

    async def _client(self, path: str) -> None:
        self._running += 1
        try:
            await self._requests(path)
        finally:
            self._running -= 1

    async def _requests(self, path: str) -> None:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: load\r\n"
            + ("" if self.keep_alive else "Connection: close\r\n")
            + "\r\n"
        ).encode()
        reader = writer = None
        served = 0
        while not self._stop.is_set():
            started = time.monotonic()
            if writer is None:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.port), self.timeout
                    )
                except (ConnectionRefusedError, ConnectionResetError):
                    # A reset during the handshake (a half-open connection the closing
                    # listener dropped) is a refusal too: no connection, nothing sent.
                    self.results.append(Result(path, started, time.monotonic(), "refused"))
                    return
                except (OSError, asyncio.TimeoutError) as exc:
                    self._failed(path, started, exc, False)
                    await asyncio.sleep(0.05)
                    continue
                served = 0
            assert reader is not None
            reused = served > 0
            try:
                writer.write(request)
                result = await asyncio.wait_for(self._response(reader, path), self.timeout)
            except (
                OSError,
                asyncio.TimeoutError,
                asyncio.IncompleteReadError,
                ValueError,
                IndexError,
            ) as exc:
                self._failed(path, started, exc, reused)
                writer.close()
                reader = writer = None
                continue
            result.started, result.reused = started, reused
            self.results.append(result)
            served += 1
            if result.closed or not self.keep_alive:
                writer.close()
                reader = writer = None
            if self.pause:
                await asyncio.sleep(self.pause)
        if writer is not None:
            writer.close()

    async def _response(self, reader: asyncio.StreamReader, path: str) -> Result:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
                body += (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        closed = headers.get("connection") == "close"
        return Result(path, 0.0, time.monotonic(), "ok", status, body, closed)

    def _failed(self, path: str, started: float, exc: BaseException, reused: bool) -> None:
        error = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        self.results.append(
            Result(path, started, time.monotonic(), "failed", error=error, reused=reused)
        )
