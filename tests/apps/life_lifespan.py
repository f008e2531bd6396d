"""Apps whose lifespan misbehaves in one specific way each."""

import asyncio
import os


async def _hello(send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def failing(scope, receive, send):
    """Startup reports failure with a message."""
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await _hello(send)


async def raising(scope, receive, send):
    """Startup raises after receiving the startup event."""
    if scope["type"] == "lifespan":
        await receive()
        raise ValueError("config file missing")
    await _hello(send)


async def slow_startup(scope, receive, send):
    """Startup takes $LIFE_STARTUP_SECONDS (30) s, printing when it begins and if cancelled."""
    if scope["type"] == "lifespan":
        await receive()
        print("APP: startup begins", flush=True)
        try:
            await asyncio.sleep(float(os.environ.get("LIFE_STARTUP_SECONDS", "30")))
        except asyncio.CancelledError:
            print("APP: startup cancelled", flush=True)
            raise
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await _hello(send)


async def failing_shutdown(scope, receive, send):
    """Starts fine; shutdown reports failure."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "could not flush the cache"})
        return
    await _hello(send)


async def hanging_shutdown(scope, receive, send):
    """Starts fine; shutdown never completes."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        print("APP: shutdown hangs", flush=True)
        await asyncio.sleep(3600)
        return
    await _hello(send)
