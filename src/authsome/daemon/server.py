"""Running the daemon: bind both listeners, serve the API and the proxy in one loop.

The API (uvicorn) and the proxy share one event loop in one process, so the
proxy reads credentials from the daemon's memory instead of over HTTP. The
sockets are bound here, before anything is served, so a port conflict is
reported precisely (exit 9) and ``--port 0`` can pick free ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from authsome import __version__
from authsome.audit.retention import run_retention
from authsome.audit.writer import record_event
from authsome.background import stop_task
from authsome.config import ServerSettings
from authsome.daemon.app import create_app
from authsome.daemon.connection_guard import guarded_protocol
from authsome.daemon.routes.oauth import logins
from authsome.daemon.services.auth_sessions import poll_device_logins
from authsome.daemon.services.proxy_backend import DaemonProxyBackend
from authsome.daemon.starting import StartingGate
from authsome.daemon.state import DaemonState, open_state
from authsome.errors import PortInUse
from authsome.home import write_private_file
from authsome.loopback import is_loopback_host
from authsome.proxy.server import ProxyServer
from authsome.store.db import transaction

log = logging.getLogger("authsome.daemon")


def bind_listener(host: str, port: int, *, what: str) -> socket.socket:
    """Bind ``host:port`` or explain who holds it (``PortInUse``, exit 9)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EADDRINUSE:
            raise
        option = "--port" if what == "API" else "--proxy-port"
        raise PortInUse(
            _describe_holder(host, port, what), hint=f"authsome daemon start {option} 0"
        ) from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _describe_holder(host: str, port: int, what: str) -> str:
    try:
        answer = httpx.get(f"http://{host}:{port}/health", timeout=1.0).json()
    except (httpx.HTTPError, ValueError):
        answer = None
    if isinstance(answer, dict) and answer.get("service") == "authsome":
        return (
            f"port {port} ({what}) is already used by an Authsome daemon "
            f"(deployment {answer.get('deployment_id')})"
        )
    return f"port {port} on {host} ({what}) is in use by another program that is not Authsome"


def write_daemon_record(state: DaemonState, api_port: int) -> None:
    layout = state.settings.layout
    host = local_address(state.settings.host)
    shown = f"[{host}]" if ":" in host else host
    record = {
        "url": f"http://{shown}:{api_port}",
        "api_port": api_port,
        "proxy_host": state.proxy_host,
        "proxy_port": state.proxy_port,
        "deployment_id": state.deployment_id,
        "pid": os.getpid(),
        "version": __version__,
        "started_at": datetime.now(UTC).isoformat(),
    }
    write_private_file(layout.daemon_json, json.dumps(record, indent=2).encode())
    write_private_file(layout.pid_file, f"{os.getpid()}\n".encode())


def local_address(host: str) -> str:
    """How this machine reaches a listener on ``host`` (a wildcard means loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def proxy_bind_host(settings: ServerSettings) -> str:
    """The proxy listener stays on loopback even when the API is public.

    Its run tokens travel in plain HTTP; a hosted daemon's remote users run
    the proxy in their own CLI instead (``authsome run --local-proxy``).
    """
    if is_loopback_host(settings.host):
        return settings.host
    return "::1" if ":" in settings.host else "127.0.0.1"


def remove_daemon_record(state: DaemonState) -> None:
    layout = state.settings.layout
    for path in (layout.daemon_json, layout.pid_file):
        with contextlib.suppress(OSError, ValueError):
            if _names_this_process(path):
                path.unlink()


def _names_this_process(path: Path) -> bool:
    text = path.read_text()
    pid = json.loads(text).get("pid") if path.suffix == ".json" else int(text.strip())
    return pid == os.getpid()


class _Server(uvicorn.Server):
    """uvicorn's server without its signal capture.

    uvicorn re-raises a captured SIGTERM once it has shut down, which would
    kill the process before the proxy, the audit queue and ``daemon.json``
    are closed. The daemon installs its own handlers instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def request_exit(self) -> None:
        self.should_exit = True


#: The GIL switch interval in the daemon. The audit batcher writes from a
#: worker thread; with Python's default (5 ms) the proxy's event loop can wait
#: that long for the GIL on every flush, which showed as a 4 ms p99.
GIL_SWITCH_INTERVAL = 0.0005


def serve(settings: ServerSettings) -> None:
    """Bind, open everything, serve until SIGINT/SIGTERM."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    api_sock = bind_listener(settings.host, settings.port, what="API")
    try:
        proxy_sock = bind_listener(proxy_bind_host(settings), settings.proxy_port, what="proxy")
    except BaseException:
        api_sock.close()
        raise
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        asyncio.run(_serve_async(settings, api_sock, proxy_sock))
    else:
        uvloop.run(_serve_async(settings, api_sock, proxy_sock))


def _record_lifecycle(state: DaemonState, event: str, api_port: int) -> None:
    with transaction(state.sessions) as db:
        record_event(
            db,
            event,
            "success",
            detail={
                "version": __version__,
                "pid": os.getpid(),
                "api_port": api_port,
                "proxy_port": state.proxy_port,
            },
        )


async def _open_while_serving(
    settings: ServerSettings, server: _Server, serving: asyncio.Task[None]
) -> DaemonState | None:
    """``open_state`` in a worker thread while the gate answers; None if stopped meanwhile."""
    stopping = threading.Event()
    opening = asyncio.ensure_future(asyncio.to_thread(open_state, settings, stopping=stopping))
    await asyncio.wait({opening, serving}, return_when=asyncio.FIRST_COMPLETED)
    if not opening.done():  # SIGINT/SIGTERM while the store was being opened
        stopping.set()
        with contextlib.suppress(Exception):
            state = await opening
            state.engine.dispose()
        return None
    if opening.exception() is not None:
        server.should_exit = True
        await serving
    return opening.result()


async def _serve_async(
    settings: ServerSettings, api_sock: socket.socket, proxy_sock: socket.socket
) -> None:
    gate = StartingGate()
    config = uvicorn.Config(
        gate,
        log_config=None,
        access_log=False,  # request lines can carry claim tokens in their paths
        lifespan="off",
        # The API has no WebSocket route (the proxy relays WebSockets itself), so
        # uvicorn need not import a WebSocket library: 21 modules, 0.6 MiB resident.
        ws="none",
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=int(max(1, settings.keep_alive_timeout)),
        http=guarded_protocol(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_per_client=settings.max_connections_per_client,
        ),
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.request_exit)
    serving = loop.create_task(server.serve(sockets=[api_sock]))
    state = await _open_while_serving(settings, server, serving)
    if state is None:
        await serving
        return
    state.proxy_host = proxy_bind_host(settings)
    state.proxy_port = proxy_sock.getsockname()[1]
    app = create_app(state)
    backend = DaemonProxyBackend(
        runs=state.runs,
        catalogue=state.current_catalogue,
        resolver=state.resolver,
        audit=state.audit,
        resolve_overrides=state.settings.proxy_resolve,
    )
    app.state.proxy_backend = backend  # routes/local_proxy.py asks it for a run's decisions
    proxy = ProxyServer(
        backend,
        state.ca,
        upstream_ca=state.settings.upstream_ca,
        head_timeout=state.settings.header_timeout,
        max_per_client=state.settings.proxy_max_connections_per_client,
    )
    api_port = api_sock.getsockname()[1]
    state.audit.start()
    state.resolver.usage.start()
    # Fail closed: a daemon that cannot write its audit log does not start.
    _record_lifecycle(state, "daemon_started", api_port)
    retention = (
        loop.create_task(run_retention(state.sessions, state.settings.audit_retention_days))
        if state.settings.audit_retention_days
        else None
    )
    device_logins = loop.create_task(poll_device_logins(lambda: logins(state)))
    await proxy.start_on(proxy_sock)
    write_daemon_record(state, api_sock.getsockname()[1])
    log.info(
        "authsome daemon %s serving API on port %s and proxy on port %s",
        __version__,
        api_sock.getsockname()[1],
        state.proxy_port,
    )
    gate.app = app
    try:
        await serving
    finally:
        await proxy.close()
        await stop_task(device_logins)
        await stop_task(retention)
        await state.resolver.usage.close()
        await state.audit.close()
        try:
            _record_lifecycle(state, "daemon_stopped", api_port)
        except Exception as exc:
            log.error("could not write the daemon_stopped audit event (%s)", type(exc).__name__)
        remove_daemon_record(state)
        state.engine.dispose()
        log.info("authsome daemon stopped")
