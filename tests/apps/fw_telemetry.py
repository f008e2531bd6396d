"""An app with native telemetry through the global providers, for tests/test_telemetry_server.py.

It configures nothing itself: the test starts ``aster run`` with ``FASTAPI_OTEL_AUTO_CONFIGURE``
and ``OTEL_EXPORTER_OTLP_ENDPOINT``, so the app's lifespan startup sets up OTLP export and
its shutdown flushes it.
"""

from __future__ import annotations

from aster import BackgroundTasks, FastAPI, HTTPException
from aster.websockets import WebSocket

app = FastAPI()


def note(item_id: int) -> None:
    """A background task: its span comes after the server span."""


@app.get("/items/{item_id}")
async def read_item(item_id: int, tasks: BackgroundTasks) -> dict[str, int]:
    tasks.add_task(note, item_id)
    return {"item_id": item_id}


@app.get("/fail")
def fail() -> None:
    raise ValueError("exported failure")


@app.get("/unavailable")
def unavailable() -> None:
    raise HTTPException(503, "private detail")


@app.websocket("/echo/{room}")
async def echo(websocket: WebSocket, room: str) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()
