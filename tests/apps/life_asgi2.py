"""ASGI2 (double-callable) apps: a class and a closure."""


class ClassApp:
    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        if self.scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2 class"})


def closure_app(scope):
    async def instance(receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2 closure"})

    return instance


class InstanceApp:
    """An ASGI2 app as an instance: ``__call__(scope)`` returns the coroutine function."""

    def __call__(self, scope):
        return closure_app(scope)


instance_app = InstanceApp()


async def _asgi3(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asgi3 via a sync wrapper"})


def sync_wrapper(scope, receive, send):
    """ASGI3, though not ``async def``: it returns the coroutine."""
    return _asgi3(scope, receive, send)


class SyncCallApp:
    """ASGI3 through a plain ``__call__(self, scope, receive, send)``."""

    def __call__(self, scope, receive, send):
        return _asgi3(scope, receive, send)


sync_call_app = SyncCallApp()
