"""Request ids, request context and Prometheus metrics on aster, from four extensions.

asgi-correlation-id and starlette-context (pure ASGI middleware, contextvars),
prometheus-fastapi-instrumentator and starlette-exporter (which find the route of a
request through ``fastapi.routing.iter_route_contexts`` or the app's routes).
"""

from aster import compat

compat.install()

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id  # noqa: E402
from fastapi import APIRouter, FastAPI  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402
from prometheus_fastapi_instrumentator import Instrumentator  # noqa: E402
from starlette_context import context, plugins  # noqa: E402
from starlette_context.middleware import RawContextMiddleware  # noqa: E402
from starlette_exporter import PrometheusMiddleware, handle_metrics  # noqa: E402

app = FastAPI()
app.add_middleware(CorrelationIdMiddleware, header_name="X-Correlation-ID")
app.add_middleware(RawContextMiddleware, plugins=(plugins.UserAgentPlugin(),))
app.add_middleware(PrometheusMiddleware, app_name="demo", group_paths=True, prefix="exporter")
app.add_route("/exporter-metrics", handle_metrics)
router = APIRouter(prefix="/api")


@router.get("/items/{item_id}")
async def item(item_id: int):
    return {"item_id": item_id, "cid": correlation_id.get(), "ua": context.get("User-Agent")}


app.include_router(router)
Instrumentator(registry=CollectorRegistry()).instrument(app).expose(app, endpoint="/metrics")
