"""A stand-in HTTPS provider for tests, the demo and benchmarks.

``TestCA`` is a throwaway certificate authority; ``HttpsEchoServer`` is a
real HTTPS/1.1 server on 127.0.0.1 with keep-alive, run on its own event
loop in a thread. Endpoints:

    /download/<n>          n bytes (Content-Length), streamed
    /upload                reads the body (Content-Length or chunked; answers
                           Expect: 100-continue), returns {"bytes", "sha256"}
    /sse?count=N&interval=S  N server-sent events, S seconds apart (chunked); each
                           carries ``sent: <time.monotonic()>`` when it was written
    /ws                    WebSocket: the first message is a JSON text frame with
                           the upgrade request's headers, then every frame is echoed
    /status/<code>         an empty response with that status
    /chunked               a small chunked response
    /close-delimited       a body ended by closing the connection
    anything else          JSON echo of method, target, headers and body size

``connections`` counts accepted TCP connections, ``open_connections`` those
open now and ``busy`` the requests being answered now (a response still
being written, or a WebSocket still open). ``expired=True`` serves a certificate that expired
yesterday (for verification-failure tests). Run as
``python -m authsome.testing.upstream --name api.provider.test --ca-out ca.pem``
to serve until interrupted; it prints its port.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import ipaddress
import json
import signal
import ssl
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_BLOCK = bytes(range(256)) * 256  # 64 KiB of a known pattern


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TestCA:
    """A throwaway CA that issues server certificates for test host names."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "Authsome test CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self._ski = ski
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def write_pem(self, path: Path) -> Path:
        """Write the CA certificate (public) to ``path``."""
        path.write_bytes(self.cert_pem)
        return path

    def issue(self, *names: str, expired: bool = False) -> tuple[bytes, bytes]:
        """A server certificate and key (PEM) for DNS names or IP addresses.

        ``expired=True``: valid from 8 days ago until yesterday.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        now = dt.datetime.now(dt.UTC)
        if expired:
            now -= dt.timedelta(days=8)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._ski),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def server_context(self, *names: str, expired: bool = False) -> ssl.SSLContext:
        cert_pem, key_pem = self.issue(*names, expired=expired)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:
            chain = Path(folder) / "server.pem"
            chain.write_bytes(cert_pem + key_pem)
            context.load_cert_chain(chain)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this CA only."""
        context = ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))
        return context


class HttpsEchoServer:
    """A local HTTPS (or, with ``tls=False``, HTTP) server; see the module docstring."""

    def __init__(
        self,
        ca: TestCA | None = None,
        names: tuple[str, ...] = ("api.provider.test",),
        *,
        tls: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        expired: bool = False,
    ) -> None:
        self._context = (
            (ca or TestCA()).server_context(*names, host, expired=expired) if tls else None
        )
        self._host = host
        self._requested_port = port
        self.port = 0
        self.connections = 0
        self.open_connections = 0
        self.busy = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self._context else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def start(self) -> HttpsEchoServer:
        self._thread = threading.Thread(target=self._run, name="https-echo", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> HttpsEchoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = _new_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()

        def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = loop.create_task(self._handle(reader, writer))
            handlers.add(task)
            task.add_done_callback(handlers.discard)

        def accept() -> asyncio.StreamReaderProtocol:
            # Counted at TCP accept, before any TLS handshake.
            self.connections += 1
            reader = asyncio.StreamReader(limit=256 * 1024)
            return asyncio.StreamReaderProtocol(reader, on_connection)

        server = await loop.create_server(
            accept, self._host, self._requested_port, ssl=self._context
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in list(handlers):
            task.cancel()
        if handlers:
            await asyncio.wait(handlers)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            while await _serve_one(reader, writer, self):
                pass
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], sink: hashlib._Hash | None
) -> int:
    total = 0
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return total
            data = await reader.readexactly(size)
            total += size
            if sink is not None:
                sink.update(data)
            await reader.readexactly(2)
    remaining = int(headers.get("content-length", "0"))
    while remaining:
        data = await reader.read(min(remaining, 256 * 1024))
        if not data:
            raise asyncio.IncompleteReadError(b"", remaining)
        remaining -= len(data)
        total += len(data)
        if sink is not None:
            sink.update(data)
    return total


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Status'}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _serve_one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: HttpsEchoServer
) -> bool:
    """Answer one request; False when the connection should end."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return False
    server.busy += 1
    try:
        return await _answer(raw, reader, writer)
    finally:
        server.busy -= 1


async def _answer(raw: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    lines = raw.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    pairs = [tuple(line.split(":", 1)) for line in lines[1:] if line]
    header_list = [(name, value.strip()) for name, value in pairs]
    headers = {name.lower(): value for name, value in header_list}
    close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
    keep = [] if not close else [("Connection", "close")]
    url = urlsplit(target)
    path = url.path
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    if path == "/ws" and headers.get("upgrade", "").lower() == "websocket":
        await _websocket_echo(reader, writer, header_list, headers)
        return False
    if path == "/upload":
        digest = hashlib.sha256()
        count = await _read_body(reader, headers, digest)
        body = json.dumps({"bytes": count, "sha256": digest.hexdigest()}).encode()
        writer.write(
            _head(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            + body
        )
    else:
        received = await _read_body(reader, headers, None)
        if path.startswith("/download/"):
            size = int(path.rsplit("/", 1)[1])
            writer.write(_head(200, [("Content-Length", str(size)), *keep]))
            if method != "HEAD":
                while size:
                    block = _BLOCK[: min(size, len(_BLOCK))]
                    writer.write(block)
                    size -= len(block)
                    await writer.drain()
        elif path == "/sse":
            query = parse_qs(url.query)
            count = int(query.get("count", ["3"])[0])
            interval = float(query.get("interval", ["0.2"])[0])
            writer.write(
                _head(
                    200,
                    [
                        ("Content-Type", "text/event-stream"),
                        ("Cache-Control", "no-store"),
                        ("Transfer-Encoding", "chunked"),
                        *keep,
                    ],
                )
            )
            for index in range(count):
                sent = time.monotonic()
                event = f"id: {index}\ndata: event {index}\nsent: {sent:.6f}\n\n".encode()
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                await asyncio.sleep(interval)
            writer.write(b"0\r\n\r\n")
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            extra = [] if status in (204, 304) else [("Content-Length", "0")]
            writer.write(_head(status, [*extra, *keep]))
        elif path == "/chunked":
            writer.write(_head(200, [("Transfer-Encoding", "chunked"), *keep]))
            if method != "HEAD":
                for part in (b"hello ", b"chunked ", b"world"):
                    writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                writer.write(b"0\r\n\r\n")
        elif path == "/close-delimited":
            writer.write(_head(200, [("Connection", "close")]) + b"body until close")
            await writer.drain()
            return False
        else:
            body = json.dumps(
                {
                    "method": method,
                    "target": target,
                    "headers": header_list,
                    "body_bytes": received,
                }
            ).encode()
            writer.write(
                _head(
                    200,
                    [
                        ("Content-Type", "application/json"),
                        ("Content-Length", str(len(body))),
                        *keep,
                    ],
                )
                + (body if method != "HEAD" else b"")
            )
    await writer.drain()
    return not close


_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_WS_CLOSE = 0x8
_WS_PING = 0x9
_WS_PONG = 0xA


async def _websocket_echo(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    header_list: list[tuple[str, str]],
    headers: dict[str, str],
) -> None:
    """Accept the upgrade, send the request's headers as JSON, then echo every frame."""
    digest = hashlib.sha1(  # noqa: S324 - fixed by RFC 6455, not used for security
        (headers.get("sec-websocket-key", "") + _WS_GUID).encode()
    ).digest()
    accept = base64.b64encode(digest).decode()
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    writer.write(_ws_frame(0x1, json.dumps({"headers": header_list}).encode()))
    await writer.drain()
    while True:
        first, second = await reader.readexactly(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
        data = await reader.readexactly(length)
        payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
        if opcode == _WS_PING:
            writer.write(_ws_frame(_WS_PONG, payload))
        elif opcode == _WS_CLOSE:
            writer.write(_ws_frame(_WS_CLOSE, payload[:2]))
            await writer.drain()
            return
        else:  # text, binary or continuation: echoed as it came, FIN bit included
            writer.write(_ws_frame(opcode, payload, fin=bool(first & 0x80)))
        await writer.drain()


def _ws_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A server-to-client frame (never masked)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 65536:
        head += bytes([126]) + size.to_bytes(2, "big")
    else:
        head += bytes([127]) + size.to_bytes(8, "big")
    return head + payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local HTTPS echo server for Authsome demos.")
    parser.add_argument("--name", action="append", default=[], help="DNS name for its certificate")
    parser.add_argument("--ca-out", type=Path, required=True, help="write the test CA here")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    ca = TestCA()
    ca.write_pem(args.ca_out)
    server = HttpsEchoServer(ca, tuple(args.name or ["api.provider.test"]), port=args.port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        print(server.port, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
