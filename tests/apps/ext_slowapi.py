"""slowapi on aster: a limiter decorator, its middleware and its exception handler."""

from aster import compat

compat.install()

from fastapi import FastAPI, Request, Response  # noqa: E402
from slowapi import Limiter, _rate_limit_exceeded_handler  # noqa: E402
from slowapi.errors import RateLimitExceeded  # noqa: E402
from slowapi.middleware import SlowAPIMiddleware  # noqa: E402
from slowapi.util import get_remote_address  # noqa: E402

limiter = Limiter(key_func=get_remote_address, default_limits=["3/minute"], headers_enabled=True)
app = FastAPI()
app.state.limiter = limiter
app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
app.add_middleware(SlowAPIMiddleware)


@app.get("/limited")
@limiter.limit("2/minute")
async def limited(request: Request, response: Response):
    return {"ok": True}


@app.get("/default")
async def default(request: Request):
    return {"default": True}
