"""sentry-sdk on aster: it replaces fastapi.routing.get_request_handler and patches Starlette.

Events are captured by a transport in the process and shown at ``/_events``.
"""

from aster import compat

compat.install()

import sentry_sdk  # noqa: E402
from sentry_sdk.transport import Transport  # noqa: E402

EVENTS: list[dict] = []


class Capture(Transport):
    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type in ("event", "transaction"):
                EVENTS.append(item.payload.json)


sentry_sdk.init(dsn="http://key@localhost/1", transport=Capture, traces_sample_rate=1.0)

from fastapi import FastAPI  # noqa: E402

app = FastAPI()


@app.get("/boom/{n}")
async def boom(n: int):
    raise ValueError(f"boom {n}")


@app.get("/sync")
def sync_view():
    return {"sync": True}


@app.get("/_events")
def events():
    sentry_sdk.flush()
    return [
        {
            "type": event.get("type", "event"),
            "transaction": event.get("transaction"),
            "source": (event.get("transaction_info") or {}).get("source"),
            "error": event["exception"]["values"][-1]["value"] if "exception" in event else None,
            "url": (event.get("request") or {}).get("url"),
        }
        for event in EVENTS
        if event.get("transaction") != "/_events"
    ]
