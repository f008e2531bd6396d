"""Whether an app's request is recorded: decided at startup, then as cheaply as possible.

``FastAPI`` builds its gate with its middleware stack (at startup, or on the first
request). There is no gate, and so no cost at all, when every signal is disabled or
OpenTelemetry is not installed. Otherwise the gate answers per request, in this order:

* not HTTP or WebSocket, or an outer app already records (or excluded) it: no;
* no provider was given and nothing has imported OpenTelemetry yet, so no global provider
  can have been set: no, without importing it;
* no provider was given and every enabled signal's global provider is still unset: no
  (:class:`_UnsetGlobals`: a few attribute reads, not the getters' environment lookups);
* else FastAPI's rule: an enabled signal has a provider, given or set globally by now
  (so providers configured after the app started are picked up).

Only then is :mod:`aster.telemetry._asgi` loaded.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from typing import Any

from .. import _telemetry_hooks as hooks
from ..types import ASGIApp, Receive, Scope, Send
from ._config import TelemetryConfig

__all__ = ["TelemetryGate", "telemetry_gate"]

_RUNTIME = __name__.rpartition(".")[0] + "._runtime"


class _UnsetGlobals:
    """Whether OpenTelemetry's global providers are all still unset, read cheaply.

    The API's getters look the ``OTEL_PYTHON_*_PROVIDER`` variables up in the environment
    on every call while nothing is set (microseconds per request); this reads the globals
    they return instead. Only while each getter is still the API's own function: one that
    was replaced (a vendor's, a test's monkeypatch) decides through the full rule, as does
    everything if a provider comes from the environment or the API has other internals.
    """

    def __init__(self, config: TelemetryConfig) -> None:
        from opentelemetry import _logs, metrics, trace
        from opentelemetry._logs import _internal as logs_internal
        from opentelemetry.metrics import _internal as metrics_internal

        signals = (
            ("tracing", trace, "get_tracer_provider", trace, "_TRACER_PROVIDER", "TRACER"),
            (
                "metrics",
                metrics,
                "get_meter_provider",
                metrics_internal,
                "_METER_PROVIDER",
                "METER",
            ),
            ("logs", _logs, "get_logger_provider", logs_internal, "_LOGGER_PROVIDER", "LOGGER"),
        )
        self._checks: list[tuple[Any, str, Any, Any, str]] | None = []
        for setting, api, getter, home, name, kind in signals:
            if not config[setting]:  # type: ignore[literal-required]
                continue
            function = getattr(api, getter)
            genuine = getattr(function, "__qualname__", None) == getter and getattr(
                function, "__module__", None
            ) in (home.__name__, api.__name__)
            if (
                not genuine
                or not hasattr(home, name)
                or f"OTEL_PYTHON_{kind}_PROVIDER" in os.environ
            ):
                self._checks = None
                return
            self._checks.append((api, getter, function, home, name))

    def all_unset(self) -> bool:
        checks = self._checks
        if checks is None:
            return False
        for api, getter, function, home, name in checks:
            if getattr(home, name) is not None or getattr(api, getter) is not function:
                return False
        return True


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
        self._unset: _UnsetGlobals | None = None
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
        if not self._explicit:
            if "opentelemetry" not in sys.modules:
                return False
            unset = self._unset
            if unset is None:
                unset = self._unset = _UnsetGlobals(self.config)
            if unset.all_unset():
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
