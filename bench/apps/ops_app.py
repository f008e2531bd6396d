"""A raw ASGI app for the operations scenarios: the tests (workers, restarts, health checks)
and ``bench/ops.py``, which runs it on aster and uvicorn alike.

Routes (every answer but ``/`` is the worker's pid, so tests can tell workers apart):
  /            "ok"
  /pid         ``os.getpid()``
  /sleep?S     sleeps S seconds without blocking (``APP: sleeping S``)
  /block?S     blocks the event loop with ``time.sleep`` (the GIL is free meanwhile)
  /hold-gil?S  blocks it in a C call that holds the GIL (other threads stop too)
  /spin?S      blocks it with a busy loop in Python
  /state       the request's lifespan state, as JSON

Every HTTP request but ``/pid`` (the load's) prints ``APP: request <path>``, so a test
can check what reached the app.  Lines are written in one piece (``print`` writes the
newline separately, and the workers share the supervisor's output).  The lifespan
prints ``APP: startup <pid>`` / ``APP: shutdown <pid>``; its startup first waits
``$OPS_STARTUP_DELAY`` seconds, and fails if the file named by ``$OPS_FAIL_IF_EXISTS``
exists.
"""

import asyncio
import ctypes
import json
import os
import sys
import time

#: libc through a handle that keeps the GIL during calls (PyDLL), unlike ctypes.CDLL.
_GIL_HOLDING_LIBC = ctypes.PyDLL(None)


def _say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _hold_gil(seconds):
    """Block in one C call that keeps the GIL and that no signal interrupts: a timed wait
    for a mutex this thread already holds (mutex waits never fail with EINTR)."""
    mutex = ctypes.create_string_buffer(64)  # larger than any pthread_mutex_t
    _GIL_HOLDING_LIBC.pthread_mutex_init(mutex, None)
    _GIL_HOLDING_LIBC.pthread_mutex_lock(mutex)
    deadline = time.time() + seconds
    until = _Timespec(int(deadline), int((deadline % 1) * 1e9))
    _GIL_HOLDING_LIBC.pthread_mutex_timedlock(mutex, ctypes.byref(until))
    _GIL_HOLDING_LIBC.pthread_mutex_unlock(mutex)


async def _lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await asyncio.sleep(float(os.environ.get("OPS_STARTUP_DELAY", "0")))
            marker = os.environ.get("OPS_FAIL_IF_EXISTS")
            if marker and os.path.exists(marker):
                _say(f"APP: startup failed {os.getpid()}")
                await send({"type": "lifespan.startup.failed", "message": "not today"})
                return
            scope["state"]["greeting"] = "hello"
            _say(f"APP: startup {os.getpid()}")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            _say(f"APP: shutdown {os.getpid()}")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send, body):
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path != "/pid":
        _say(f"APP: request {path}")
    seconds = float(scope["query_string"].decode() or "0.2")
    pid = str(os.getpid()).encode()
    if path == "/":
        await _respond(send, b"ok")
    elif path == "/sleep":
        _say(f"APP: sleeping {seconds:g}")
        await asyncio.sleep(seconds)
        await _respond(send, pid)
    elif path in ("/block", "/hold-gil", "/spin"):
        _say(f"APP: blocking {seconds:g}")
        if path == "/block":
            time.sleep(seconds)
        elif path == "/hold-gil":
            _hold_gil(seconds)
        else:
            _spin(seconds)
        await _respond(send, pid)
    elif path == "/state":
        await _respond(send, json.dumps(scope.get("state", {})).encode())
    else:
        await _respond(send, pid)
