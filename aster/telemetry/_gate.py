"""Whether an app's request is recorded: decided at startup, then as cheaply as possible.

``FastAPI`` builds its gate with its middleware stack (at startup, or on the first
request). There is no gate, and so no cost at all, when every signal is disabled or
OpenTelemetry is not installed. Otherwise the gate answers per request, in this order:

* not HTTP or WebSocket, or an outer app already records (or excluded) it: no;
* no provider was given and nothing has imported OpenTelemetry yet, so no global provider
  can have been set: no, without importing it;
* else FastAPI's rule: an enabled signal has a provider, given or set globally by now
  (so providers configured after the app started are picked up).

Only then is :mod:`aster.telemetry._asgi` (and with it OpenTelemetry) loaded.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from typing import Any

from .. import _telemetry_hooks as hooks
from ..types import ASGIApp, Receive, Scope, Send
from ._config import TelemetryConfig

__all__ = ["TelemetryGate", "telemetry_gate"]

_RUNTIME = __name__.rpartition(".")[0] + "._runtime"


class TelemetryGate:
    def __init__(self, config: TelemetryConfig) -> None:
        self.config = config
        self._explicit = any(
            config[signal] and config[provider] is not None  # type: ignore[literal-required]
            for signal, provider in (
                ("tracing", "tracer_provider"),
                ("metrics", "meter_provider"),
                ("logs", "logger_provider"),
            )
        )
        self._native: Any = None
        self._stack: Any = None
        self._legacy = False

    def native(self) -> Any:
        """The app's :class:`~aster.telemetry._asgi.NativeTelemetry` (imports OpenTelemetry)."""
        if self._native is None:
            from ._asgi import NativeTelemetry

            self._native = NativeTelemetry(self.config)
        return self._native

    def intercepts(self, scope: Scope) -> bool:
        kind = scope["type"]
        if kind == "lifespan":
            # Export set up from the environment, or components to flush at the end.
            return self.config["auto_configure"] or _RUNTIME in sys.modules
        if kind not in ("http", "websocket") or hooks.SCOPE_KEY in scope:
            return False
        if not self._explicit and "opentelemetry" not in sys.modules:
            return False
        return bool(self.native().enabled())

    async def __call__(self, stack: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            from ._runtime import lifespan

            await lifespan(config=self.config, app=stack, scope=scope, receive=receive, send=send)
            return
        if stack is not self._stack:  # contrib's instrumentation may have rebuilt it
            from ._asgi import _legacy_otel

            self._stack, self._legacy = stack, _legacy_otel(stack)
        await self.native()(
            app=stack, scope=scope, receive=receive, send=send, legacy_otel=self._legacy
        )


def telemetry_gate(config: TelemetryConfig) -> TelemetryGate | None:
    """The gate for an app with these settings, or ``None`` if it can never record."""
    if not (config["tracing"] or config["metrics"] or config["logs"]):
        return None
    if importlib.util.find_spec("opentelemetry") is None:
        if config["auto_configure"]:
            logging.getLogger("fastapi").warning(
                "FastAPI automatic telemetry configuration failed: it requires "
                "aster[telemetry] (OpenTelemetry is not installed)"
            )
        return None
    return TelemetryGate(config)
