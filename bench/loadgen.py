"""Concurrent keep-alive HTTPS load, and mitmproxy for comparison (bench helpers).

``run_load`` drives N clients on one uvloop event loop, each on its own
keep-alive connection, sending ``GET`` requests back to back for a fixed
time. The client side is deliberately thin (raw streams, Content-Length
framing only) so that it, not the proxy, is never the bottleneck.

``mitmdump`` starts mitmproxy (what upstream Authsome embeds) with a small
addon that adds the same ``Authorization`` header, for a side-by-side
figure. mitmproxy is only a benchmark dependency: install it anywhere
(``pipx install mitmproxy`` or a separate venv) and pass ``--mitmdump``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[[], Awaitable[Streams]]


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    resets: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def direct(port: int, context: ssl.SSLContext, sni: str) -> Connect:
    async def connect() -> Streams:
        return await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=sni)

    return connect


def through_proxy(
    proxy_port: int,
    target: str,
    context: ssl.SSLContext,
    sni: str,
    auth: str | None = None,
) -> Connect:
    """CONNECT ``target`` (host:port) through a proxy on 127.0.0.1, then TLS."""
    header = ""
    if auth is not None:
        header = f"Proxy-Authorization: Basic {base64.b64encode(auth.encode()).decode()}\r\n"
    connect_request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{header}\r\n".encode()

    async def connect() -> Streams:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
        writer.write(connect_request)
        reply = await reader.readuntil(b"\r\n\r\n")
        if not reply.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(reply.split(b"\r\n", 1)[0].decode())
        await writer.start_tls(context, server_hostname=sni)
        return reader, writer

    return connect


async def _client(connect: Connect, request: bytes, deadline: float, counts: list[int]) -> None:
    try:
        reader, writer = await connect()
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        counts[1] += 1
        return
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                counts[0] += 1
            else:
                counts[1] += 1
    except ConnectionResetError:
        counts[2] += 1
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
        counts[1] += 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def run_load(connect: Connect, host: str, path: str, clients: int, seconds: float) -> LoadResult:
    """``clients`` keep-alive clients for ``seconds``; counts, errors and resets."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    async def main() -> LoadResult:
        counts = [0, 0, 0]  # ok, errors, resets
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_client(connect, request, deadline, counts) for _ in range(clients)))
        return LoadResult(counts[0], time.perf_counter() - started, counts[1], counts[2])

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    result: LoadResult = uvloop.run(main())
    return result


# --- mitmproxy ------------------------------------------------------------------------

_ADDON = """
import os
KEY = os.environ["BENCH_KEY"]
def request(flow):
    flow.request.headers["Authorization"] = "Bearer " + KEY
"""


def find_mitmdump(explicit: str | None) -> str | None:
    return explicit or os.environ.get("MITMDUMP") or shutil.which("mitmdump")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Mitm:
    port: int
    ca_file: Path
    pid: int


@contextlib.contextmanager
def mitmdump(binary: str, work: Path, upstream_ca: Path, key: str) -> Iterator[Mitm]:
    """mitmdump with a header-adding addon, listening on a free port."""
    confdir = work / "mitmproxy"
    addon = work / "mitm_addon.py"
    addon.write_text(_ADDON)
    port = _free_port()
    args = [
        binary,
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--set",
        f"confdir={confdir}",
        "--set",
        f"ssl_verify_upstream_trusted_ca={upstream_ca}",
        "--set",
        "termlog_verbosity=error",
        "--set",
        "flow_detail=0",
        "-s",
        str(addon),
    ]
    with open(work / "mitmdump.log", "wb") as log:
        process = subprocess.Popen(
            args, env=os.environ | {"BENCH_KEY": key}, stdout=log, stderr=subprocess.STDOUT
        )
    ca_file = confdir / "mitmproxy-ca-cert.pem"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"mitmdump exited with {process.returncode}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                if ca_file.exists():
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("mitmdump did not start within 30 s")
        yield Mitm(port, ca_file, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
