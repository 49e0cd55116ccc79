"""The daemon never hands requests to OpenTelemetry, even when the process has it set up.

FastAPI traces every request, records metrics and logs validation failures
and unhandled errors (with request bodies and exception text) as soon as a
global OpenTelemetry provider is configured, as ``opentelemetry-instrument``
or a ``sitecustomize`` does. A daemon whose requests carry API keys and
tokens must not: the test installs recording providers in the daemon's
process and checks that nothing ever asked them for a tracer, a meter or a
logger.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.daemon import start_daemon

SITECUSTOMIZE = """
import os

from opentelemetry import _logs, metrics, trace

RECORD = os.environ["TELEMETRY_RECORD"]


def _note(what):
    with open(RECORD, "a") as record:
        record.write(what + "\\n")


# Real providers (not the API's no-op ones, which FastAPI recognises and skips).
class Tracers(trace.TracerProvider):
    def get_tracer(self, name, *args, **kwargs):
        _note("tracer")
        return trace.NoOpTracer()


class Meters(metrics.MeterProvider):
    def get_meter(self, name, *args, **kwargs):
        _note("meter")
        return metrics.NoOpMeter(name)


class Loggers(_logs.LoggerProvider):
    def get_logger(self, name, *args, **kwargs):
        _note("logger")
        return _logs.NoOpLogger(name)


trace.set_tracer_provider(Tracers())
metrics.set_meter_provider(Meters())
_logs.set_logger_provider(Loggers())
_note("installed")
"""


def test_configured_opentelemetry_providers_are_never_used(tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    record = tmp_path / "telemetry.log"
    daemon = start_daemon(
        tmp_path / "home",
        env={
            "PYTHONPATH": str(hooks),
            "TELEMETRY_RECORD": str(record),
            "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
        },
    )
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            assert client.get("/health").status_code == 200
            # An unsigned call, a malformed body and an unknown path: the error
            # paths FastAPI would log.
            assert client.get("/whoami").status_code == 401
            assert client.post("/identities", content=b"{not json").status_code in (400, 401, 422)
            assert client.get("/no-such-route").status_code == 404
    finally:
        assert daemon.stop() == 0
    assert record.read_text().splitlines() == ["installed"]  # the hook ran, and nothing else did
