"""Process-wide telemetry plumbing: OTLP exporters from the environment, flushed at shutdown.

With ``auto_configure`` (or ``FASTAPI_OTEL_AUTO_CONFIGURE=true``) the app's lifespan startup
adds an OTLP/HTTP exporter for each enabled signal that has an ``OTEL_EXPORTER_OTLP_*``
endpoint. Providers that already exist keep theirs: aster only adds its own exporter (once
per provider), and creates an SDK provider only where the global one was never set. What
aster created it owns: flushed when a lifespan ends, shut down at interpreter exit. This
runs at startup, not import, so a worker forked after the app was built exports on its own.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import _logs, metrics, trace

from ..concurrency import run_in_threadpool
from ..exceptions import FastAPIError
from ..types import ASGIApp, Message, Receive, Scope, Send
from ._api import _unconfigured
from ._config import TelemetryConfig

logger = logging.getLogger("fastapi")

_lock = threading.RLock()
#: Providers and export components aster created, to flush and shut down.
_owned: list[Any] = []
#: ``(signal, provider)`` pairs aster already attached an exporter to.
_configured: list[tuple[str, Any]] = []

_DISABLE_HINT = "pass telemetry={'auto_configure': False} to FastAPI()"


def _flush() -> None:
    for component in tuple(_owned):
        try:
            component.force_flush()
        except Exception:
            logger.exception("FastAPI telemetry cleanup failed")


def _shutdown() -> None:
    with _lock:
        owned = tuple(_owned)
        _owned.clear()
    for component in owned:
        try:
            component.shutdown()
        except Exception:
            logger.exception("FastAPI telemetry cleanup failed")


atexit.register(_shutdown)


def _export_endpoint(signal: str) -> str | None:
    """The OTLP/HTTP endpoint for ``signal`` (TRACES, METRICS, LOGS), or ``None``.

    A signal's own endpoint is used as given; the general one gets ``/v1/<signal>``.
    Empty variables count as unset. Only ``otlp`` (or ``none``) over ``http/protobuf``
    can be set up here: anything else is for the app to configure itself.
    """
    exporter = (os.getenv(f"OTEL_{signal}_EXPORTER") or "otlp").strip().lower()
    endpoint = os.getenv(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    if not endpoint:
        endpoint = os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint:
            endpoint = f"{endpoint.removesuffix('/')}/v1/{signal.lower()}"
    if not endpoint or exporter == "none":
        return None
    if exporter != "otlp":
        raise FastAPIError(
            f"FastAPI automatic telemetry supports OTEL_{signal}_EXPORTER=otlp or none. "
            f"Configure other exporters explicitly and {_DISABLE_HINT}."
        )
    protocol = (
        os.getenv(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or os.getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol != "http/protobuf":
        raise FastAPIError(
            "FastAPI automatic telemetry requires the OTLP http/protobuf protocol. "
            f"Configure other transports explicitly and {_DISABLE_HINT}."
        )
    parsed = urlsplit(endpoint)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise FastAPIError(
            f"Invalid OTLP {signal.lower()} endpoint. Use an absolute HTTP or HTTPS URL."
        )
    return endpoint


def _registration_provider(provider: Any) -> Any:
    """Where to add a reader: older Logfire meter wrappers only have it on their SDK provider."""
    cls = type(provider)
    if (
        cls.__module__ == "logfire._internal.metrics"
        and cls.__name__ == "ProxyMeterProvider"
        and not hasattr(provider, "add_metric_reader")
    ):
        return provider.provider
    return provider


def _configure_from_environment(config: TelemetryConfig) -> None:
    """Attach OTLP exporters from the environment to the app's providers (see the module)."""
    if not config["auto_configure"] or os.getenv("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    with _lock:
        signals = [
            ("TRACES", config["tracing"], config["tracer_provider"]),
            ("METRICS", config["metrics"], config["meter_provider"]),
            ("LOGS", config["logs"], config["logger_provider"]),
        ]
        requested = [
            (signal, explicit, endpoint)
            for signal, enabled, explicit in signals
            if enabled and (endpoint := _export_endpoint(signal)) is not None
        ]
        if not requested:
            return
        try:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            raise FastAPIError(
                "Automatic OpenTelemetry export requires aster[telemetry] (FastAPI's "
                "fastapi[opentelemetry]): the OpenTelemetry SDK and OTLP exporter. Install "
                f"it, configure providers yourself, or {_DISABLE_HINT}."
            ) from exc

        def component_for(signal: str, endpoint: str) -> Any:
            if signal == "TRACES":
                return BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
            if signal == "METRICS":
                return PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint))
            return BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint))

        def new_global(signal: str, component: Any) -> Any:
            if signal == "TRACES":
                provider: Any = TracerProvider(shutdown_on_exit=False)
                provider.add_span_processor(component)
                trace.set_tracer_provider(provider)
            elif signal == "METRICS":
                provider = MeterProvider(metric_readers=[component], shutdown_on_exit=False)
                metrics.set_meter_provider(provider)
            else:
                provider = LoggerProvider(shutdown_on_exit=False)
                provider.add_log_record_processor(component)
                _logs.set_logger_provider(provider)
            return provider

        getters: dict[str, tuple[str, Callable[[], Any]]] = {
            "TRACES": ("tracer", trace.get_tracer_provider),
            "METRICS": ("meter", metrics.get_meter_provider),
            "LOGS": ("logger", _logs.get_logger_provider),
        }
        for signal, explicit, endpoint in requested:
            name, get_global = getters[signal]
            provider = _registration_provider(explicit if explicit is not None else get_global())
            if any(s == signal and p is provider for s, p in _configured):
                continue
            if explicit is None and _unconfigured(provider):
                created = new_global(signal, component_for(signal, endpoint))
                current = get_global()
                if current is created:
                    _configured.append((signal, created))
                    _owned.append(created)
                    continue
                # Someone else set the global provider meanwhile: theirs wins; drop ours
                # and attach an exporter to theirs instead.
                created.shutdown()
                provider = _registration_provider(current)
            register = getattr(
                provider,
                {
                    "TRACES": "add_span_processor",
                    "METRICS": "add_metric_reader",
                    "LOGS": "add_log_record_processor",
                }[signal],
                None,
            )
            if not callable(register):
                raise FastAPIError(
                    f"The configured OpenTelemetry {name} provider does not support adding "
                    "an OTLP exporter. Configure environment export through that provider "
                    f"and {_DISABLE_HINT}."
                )
            component = component_for(signal, endpoint)
            try:
                register(component)
            except Exception:
                component.shutdown()
                raise
            _configured.append((signal, provider))
            _owned.append(component)


async def lifespan(
    *, config: TelemetryConfig, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run the app's lifespan, configuring export at startup and flushing at the end."""

    async def startup_receive() -> Message:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                _configure_from_environment(config)
            except Exception as exc:
                # Telemetry is optional: it never stops the application from starting.
                logger.warning("FastAPI automatic telemetry configuration failed: %s", exc)
        return message

    async def flushing_send(message: Message) -> None:
        if (
            message["type"]
            in ("lifespan.shutdown.complete", "lifespan.shutdown.failed", "lifespan.startup.failed")
            and _owned
        ):
            await run_in_threadpool(_flush)  # exporters block on the network
        await send(message)

    await app(scope, startup_receive, flushing_send)
