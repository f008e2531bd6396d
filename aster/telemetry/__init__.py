"""FastAPI 0.165's native OpenTelemetry support: ``FastAPI(telemetry={...})``.

An app records a server span per HTTP request and WebSocket connection, HTTP server
metrics, log records for validation failures and unhandled exceptions, and child spans
for dependencies, the endpoint, serialisation and background tasks, through the global
OpenTelemetry providers or the ones given in :class:`TelemetryConfig`.

OpenTelemetry is an optional dependency (``aster[telemetry]``): nothing here imports it
until a request is recorded, and an app that cannot record has no per-request cost
(:mod:`aster.telemetry._gate`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ._config import TelemetryConfig, TelemetryData

if TYPE_CHECKING:
    from opentelemetry.context import Context

__all__ = ["TelemetryConfig", "TelemetryData", "get_telemetry_data"]


def get_telemetry_data(context: Context | None = None) -> TelemetryData | None:
    """The current request's :class:`TelemetryData`, read from an OpenTelemetry context.

    ``context`` defaults to the current one; a log processor passes ``record.context``.
    Read it synchronously while the request is handled: once it is over this returns
    ``None``, even for a context kept from it. Nothing here is exported by itself.
    """
    if "opentelemetry" not in sys.modules:
        return None  # no request can have been recorded: none imported OpenTelemetry
    from ._api import get_telemetry_data as from_context

    return from_context(context)
