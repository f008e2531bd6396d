"""An app that does not support lifespan: it raises on any non-HTTP scope."""

LIFESPAN_CALLS = 0


async def app(scope, receive, send):
    global LIFESPAN_CALLS
    if scope["type"] != "http":
        LIFESPAN_CALLS += 1
        raise RuntimeError(f"unsupported scope type {scope['type']}")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"no lifespan here"})
