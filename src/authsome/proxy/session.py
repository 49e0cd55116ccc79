"""HTTP/1.1 exchanges on one client connection: the proxy's hot path.

A session reads requests from the client (plaintext, or decrypted inside
an intercepted tunnel), asks the backend what to inject, forwards each
request to a pooled upstream connection and streams the response back.
Bodies are passed through as they arrive; the only thing rewritten is the
request head. Everything runs in protocol callbacks: no task per request,
except while a new upstream connection is opened or the backend really
has to wait.

Requests on one connection are handled strictly in order: the next
request head is not read until the current exchange has ended, so
pipelined requests are answered in order.

Flow control: when the upstream's write buffer is full the client stops
being read, and when the client's write buffer is full the upstream stops
being read, so neither body is ever held whole in memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
from functools import partial
from typing import Protocol

from authsome.proxy.backend import Injection, ProxyBackend, RunSession
from authsome.proxy.eager import call_eagerly
from authsome.proxy.http1 import (
    MAX_HEAD,
    UNTIL_CLOSE,
    BodyScanner,
    ProtocolError,
    RequestHead,
    ResponseHead,
    head_end,
    parse_request_head,
    parse_response_head,
    rewrite_request_head,
    simple_response,
    valid_header,
    valid_host,
)
from authsome.proxy.upstream import (
    PoolKey,
    UpstreamConnection,
    UpstreamError,
    UpstreamPool,
    make_key,
)

logger = logging.getLogger("authsome.proxy")

# Plaintext held for a client that is not being served right now (a
# pipelined request, a body waiting for its upstream) before reading stops.
_INBUF_LIMIT = 256 * 1024

_HEAD, _PENDING, _BODY, _DONE, _RAW, _CLOSED = range(6)

_HTTP_URL = re.compile(
    r"http://(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::([0-9]{1,5}))?([/?][^#]*)?",
    re.IGNORECASE,
)
PROXY_AUTH_REQUIRED = simple_response(
    407,
    "authsome proxy: proxy authentication required; use the proxy URL that `authsome run` sets\n",
    close=True,
    extra_headers=(("Proxy-Authenticate", 'Basic realm="authsome"'),),
)
HTTPS_ONLY = "credentials are only sent over HTTPS"


class ClientSide(Protocol):
    """The client connection, as a session sees it."""

    def write(self, data: bytes) -> None: ...

    def set_reading(self, on: bool) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def start_connect(self, req: RequestHead, rest: bytes) -> None: ...


class Shared(Protocol):
    """What all sessions of one proxy share."""

    backend: ProxyBackend
    pool: UpstreamPool
    debug: bool


class Target:
    """The host an intercepted tunnel leads to, decided at CONNECT."""

    __slots__ = ("host", "key", "port", "run")

    def __init__(self, run: RunSession, host: str, port: int, key: PoolKey) -> None:
        self.run = run
        self.host = host
        self.port = port
        self.key = key


def token_from(value: bytes | None) -> str | None:
    """The run token in a ``Proxy-Authorization: Basic base64(run:<token>)`` value."""
    if value is None:
        return None
    scheme, _, param = value.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, token = decoded.partition(":")
    return token if colon and token else None


def authenticate(backend: ProxyBackend, req: RequestHead) -> RunSession | None:
    token = token_from(req.proxy_authorization)
    return None if token is None else backend.run_for_token(token)


class Exchange:
    """One request and its response."""

    __slots__ = (
        "close_client",
        "head",
        "head_pending",
        "host",
        "injection",
        "key",
        "method",
        "path",
        "port",
        "recorded",
        "req",
        "req_done",
        "req_scanner",
        "resp",
        "resp_buf",
        "resp_done",
        "resp_scanner",
        "resp_seen",
        "resp_started",
        "retried",
        "run",
        "sent_body",
        "started",
        "status",
        "task",
        "upstream",
        "upstream_reusable",
    )

    def __init__(
        self,
        req: RequestHead,
        key: PoolKey,
        host: str,
        port: int,
        path: str,
        run: RunSession | None,
        started: float,
    ) -> None:
        self.req = req
        self.key = key
        self.method = req.method
        self.host = host
        self.port = port
        self.path = path
        self.run = run  # None: not audited (plain HTTP to a host that is not intercepted)
        self.started = started
        self.head = b""
        self.head_pending = b""
        self.injection: Injection | None = None
        self.task: asyncio.Task[object] | None = None
        self.upstream: UpstreamConnection | None = None
        self.req_scanner: BodyScanner = req.body_scanner()
        self.req_done = False
        self.sent_body = False
        self.resp: ResponseHead | None = None
        self.resp_buf = b""
        self.resp_scanner: BodyScanner | None = None
        self.resp_seen = False
        self.resp_started = False
        self.resp_done = False
        self.status = 0
        self.upstream_reusable = True
        self.close_client = False
        self.retried = False
        self.recorded = False


class Session:
    """Requests from one client: plain-HTTP proxy requests, or those inside a tunnel."""

    __slots__ = (
        "_backend",
        "_client",
        "_client_full",
        "_debug",
        "_eof",
        "_ex",
        "_inbuf",
        "_pool",
        "_processing",
        "_state",
        "_target",
        "_upstream_full",
        "head_since",
        "idle_since",
    )

    def __init__(
        self, client: ClientSide, shared: Shared, target: Target | None, *, head_due: bool = False
    ) -> None:
        self._client = client
        self._backend = shared.backend
        self._pool = shared.pool
        self._debug = shared.debug
        self._target = target
        self._state = _HEAD
        self._inbuf = b""
        self._ex: Exchange | None = None
        self._processing = False
        self._upstream_full = False
        self._client_full = False
        self._eof = False
        # When the connection last had no exchange in progress; None while one
        # is. The proxy closes connections idle for too long.
        self.idle_since: float | None = time.monotonic()
        # Since when a request head has been awaited in part (``head_due``: a new
        # connection's first head is due from the start); None otherwise. The
        # proxy answers 408 to a head not complete in time.
        self.head_since: float | None = self.idle_since if head_due else None

    # ----------------------------------------------------------------- input

    def feed(self, data: bytes) -> None:
        """Bytes from the client."""
        if self._inbuf:
            data = self._inbuf + data
            self._inbuf = b""
        self._process(data)

    def _process(self, data: bytes) -> None:
        self._processing = True
        pos = 0
        size = len(data)
        try:
            while pos < size:
                state = self._state
                if state == _BODY:
                    pos = self._forward_body(data, pos)
                elif state == _HEAD:
                    end = self._read_head(data, pos)
                    if end < 0:
                        break
                    pos = end
                elif state == _RAW:
                    assert self._ex is not None and self._ex.upstream is not None
                    self._ex.upstream.write(data[pos:] if pos else data)
                    pos = size
                else:
                    break
        finally:
            self._processing = False
        if self._state == _CLOSED:
            return
        if pos < size:
            self._inbuf = data[pos:] if pos else data
        if self._state == _HEAD and self._inbuf:
            if self.head_since is None:
                self.head_since = time.monotonic()  # a head has begun: its deadline starts
        else:
            self.head_since = None
        ex = self._ex
        if ex is not None and ex.head_pending and ex.upstream is not None:
            ex.upstream.write(ex.head_pending)
            ex.head_pending = b""
        if self._eof:
            self._check_eof()
        self._update_reading()

    def _resume_input(self) -> None:
        """Carry on with buffered input after the state moved on outside ``feed``."""
        if self._processing or self._state == _CLOSED:
            return
        data, self._inbuf = self._inbuf, b""
        self._process(data)

    def _update_reading(self) -> None:
        if self._state != _CLOSED:
            self._client.set_reading(not self._upstream_full and len(self._inbuf) <= _INBUF_LIMIT)

    def _read_head(self, data: bytes, pos: int) -> int:
        """Parse the next request head at ``pos``: the index past it, or -1 for more data."""
        size = len(data)
        while data.startswith(b"\r\n", pos):  # blank lines between requests (RFC 9112 §2.2)
            pos += 2
        if pos >= size:
            return size
        end = head_end(data, pos)
        if end < 0:
            if size - pos > MAX_HEAD:
                self._refuse("message head too large")
                return size
            return -1
        try:
            req = parse_request_head(data[pos:end])
        except ProtocolError as exc:
            self._refuse(str(exc))
            return size
        if req.method == "CONNECT":
            if self._target is not None:
                self._refuse("CONNECT inside a tunnel")
            else:
                self._state = _CLOSED  # the client connection takes over
                self._client.start_connect(req, data[end:])
            return size
        started = time.perf_counter()
        self.idle_since = None
        if self._target is None:
            self._start_plain(req, started)
        else:
            self._start_intercepted(req, self._target, started)
        return end

    def _refuse(self, reason: str) -> None:
        if self._debug:
            logger.debug("refusing request: %s", reason)
        self._client.write(
            simple_response(400, f"authsome proxy: bad request: {reason}\n", close=True)
        )
        self._close()

    # -------------------------------------------------------------- requests

    def _start_plain(self, req: RequestHead, started: float) -> None:
        run = authenticate(self._backend, req)
        if run is None:
            self._client.write(PROXY_AUTH_REQUIRED)
            self._close()
            return
        match = _HTTP_URL.fullmatch(req.target)
        if match is None:
            self._refuse("expected an absolute http:// URL (use CONNECT for https)")
            return
        port = int(match.group(3) or 80)
        host = (match.group(1) or match.group(2)).lower().rstrip(".")
        if not 0 < port < 65536 or not valid_host(host):
            self._refuse("bad host or port in the URL")
            return
        target = match.group(4) or "/"
        if target.startswith("?"):
            target = "/" + target
        path = target.partition("?")[0]
        if self._backend.should_intercept(run, host, port):
            refusal: str | None = HTTPS_ONLY
            message = f"authsome proxy: {HTTPS_ONLY}; use https://{host}"
        else:
            refusal = self._backend.unmatched_refusal(run, host, port)
            message = refusal or ""
        if refusal is not None:
            self._backend.record_request(
                run,
                method=req.method,
                host=host,
                path=path,
                status=403,
                injection=None,
                outcome="denied",
                reason=refusal,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
            self._reply_local(req, 403, message + "\n")
            return
        key = make_key(False, host, port, self._backend.upstream_address(host, port))
        ex = Exchange(req, key, host, port, path, None, started)
        ex.head = rewrite_request_head(req, target=target)
        self._dispatch(ex)

    def _start_intercepted(self, req: RequestHead, target: Target, started: float) -> None:
        if req.target.startswith("/"):
            path = req.target.partition("?")[0]
        elif req.target == "*" and req.method == "OPTIONS":
            path = "*"
        else:
            self._refuse("request target inside a tunnel must be a path")
            return
        ex = Exchange(req, target.key, target.host, target.port, path, target.run, started)
        self._ex = ex
        self._state = _PENDING
        coro = self._backend.injection_for(
            target.run, host=target.host, port=target.port, method=req.method, path=path
        )
        task = call_eagerly(coro, partial(self._decided, ex))
        if task is not None and ex.task is None and self._ex is ex:
            ex.task = task

    def _decided(
        self, ex: Exchange, injection: Injection | None, error: BaseException | None
    ) -> None:
        if ex is not self._ex:
            return  # the client went away meanwhile
        ex.task = None
        if error is not None:
            logger.error("proxy backend failed to decide on %s %s", ex.method, ex.host)
            self._fail(ex, 502, "authsome proxy: internal error while deciding on this request")
            return
        ex.injection = injection
        set_headers: tuple[tuple[bytes, bytes], ...] = ()
        if injection is not None:
            if injection.deny_status is not None:
                self._deny(ex, injection)
                return
            set_headers = injection.headers
            for name, value in set_headers:
                if not valid_header(name, value):
                    self._fail(ex, 502, "authsome proxy: the credential is not a valid header")
                    return
        ex.head = rewrite_request_head(ex.req, set_headers=set_headers)
        self._dispatch(ex)

    def _deny(self, ex: Exchange, injection: Injection) -> None:
        status = injection.deny_status or 403
        ex.status = status
        self._record(ex, "denied", injection.deny_message or None)
        message = injection.deny_message or "denied by authsome"
        self._reply_local(ex.req, status, message if message.endswith("\n") else message + "\n")

    def _reply_local(self, req: RequestHead, status: int, message: str) -> None:
        """Answer without contacting the upstream; keep the connection if nothing is pending."""
        close = req.has_body or not req.keep_alive or self._eof
        self._client.write(simple_response(status, message, close=close))
        self._ex = None
        if close:
            self._close()
        else:
            self._state = _HEAD
            self.idle_since = time.monotonic()
            self._resume_input()

    def _dispatch(self, ex: Exchange) -> None:
        self._ex = ex
        self._state = _PENDING
        conn = self._pool.acquire(ex.key)
        if conn is not None:
            self._attach(ex, conn)
        else:
            ex.task = asyncio.get_running_loop().create_task(self._connect(ex))

    async def _connect(self, ex: Exchange) -> None:
        try:
            conn = await self._pool.connect(ex.key)
        except UpstreamError as exc:
            if ex is self._ex:
                ex.task = None
                self._fail(ex, 502, f"authsome proxy: {exc}\n", reason=str(exc))
            return
        if ex is not self._ex:
            self._pool.release(conn)
            return
        ex.task = None
        self._attach(ex, conn)

    def _attach(self, ex: Exchange, conn: UpstreamConnection) -> None:
        ex.upstream = conn
        conn.owner = self
        if self._client_full:
            conn.pause_reading()
        if ex.req.has_body and not ex.req_done:
            # Sent with the first body bytes if they are here already.
            ex.head_pending = ex.head
            self._state = _BODY
            self._resume_input()  # also sends the head if no body bytes are here yet
        else:
            conn.write(ex.head)
            ex.req_done = True
            self._state = _DONE
            self._resume_input()

    def _forward_body(self, data: bytes, pos: int) -> int:
        ex = self._ex
        assert ex is not None and ex.upstream is not None
        scanner = ex.req_scanner
        try:
            end = scanner.scan(data, pos)
        except ProtocolError as exc:
            self._fail(ex, 400, f"authsome proxy: bad request: {exc}\n", reason=str(exc))
            return len(data)
        chunk = data if pos == 0 and end == len(data) else data[pos:end]
        if ex.head_pending:
            chunk = ex.head_pending + chunk
            ex.head_pending = b""
        if chunk:
            ex.upstream.write(chunk)
            ex.sent_body = True
        if scanner.done:
            ex.req_done = True
            self._state = _DONE
        return end

    # ------------------------------------------------------------- responses

    def upstream_data(self, data: bytes) -> None:
        ex = self._ex
        if ex is None:
            return
        if self._state == _RAW:
            self._client.write(data)
            return
        ex.resp_seen = True
        scanner = ex.resp_scanner
        if scanner is None:
            if ex.resp_buf:
                data = ex.resp_buf + data
                ex.resp_buf = b""
            self._response_heads(ex, data)
            return
        try:
            end = scanner.scan(data, 0)
        except ProtocolError as exc:
            self._upstream_broken(ex, f"invalid response body: {exc}")
            return
        if end == len(data):
            self._client.write(data)
        else:
            self._client.write(data[:end])
            ex.upstream_reusable = False  # bytes past the response: out of step
        if scanner.done:
            self._response_done(ex)

    def _response_heads(self, ex: Exchange, data: bytes) -> None:
        start = pos = 0
        size = len(data)
        while True:
            end = head_end(data, pos)
            if end < 0:
                if size - pos > MAX_HEAD:
                    self._upstream_broken(ex, "response head too large")
                    return
                if pos > start:
                    self._client.write(data[start:pos])  # interim responses
                ex.resp_buf = data[pos:]
                return
            try:
                resp = parse_response_head(data[pos:end], request_method=ex.method)
            except ProtocolError as exc:
                self._upstream_broken(ex, f"invalid response: {exc}")
                return
            if resp.interim:
                pos = end
                continue
            break
        ex.resp = resp
        ex.status = resp.status
        if resp.status == 101:
            self._upgrade(ex, data[start:end], data[end:])
            return
        scanner = resp.body_scanner()
        ex.resp_scanner = scanner
        try:
            body_end = scanner.scan(data, end)
        except ProtocolError as exc:
            self._upstream_broken(ex, f"invalid response body: {exc}")
            return
        ex.resp_started = True
        self._client.write(data if start == 0 and body_end == size else data[start:body_end])
        if body_end < size:
            ex.upstream_reusable = False
        if scanner.done:
            self._response_done(ex)

    def _upgrade(self, ex: Exchange, head: bytes, rest: bytes) -> None:
        if not ex.req.upgrade:
            self._upstream_broken(ex, "101 Switching Protocols without an Upgrade request")
            return
        ex.resp_started = True
        self._record(ex, "success", None)
        self._client.write(head)
        if rest:
            self._client.write(rest)
        self._state = _RAW
        self._resume_input()

    def _response_done(self, ex: Exchange) -> None:
        ex.resp_done = True
        if not ex.req_done:
            # The upstream answered before the request body ended (e.g. an
            # early 413): the rest of the body has nowhere to go.
            ex.upstream_reusable = False
            ex.close_client = True
        self._finish(ex)

    def _finish(self, ex: Exchange) -> None:
        resp = ex.resp
        assert resp is not None
        upstream = ex.upstream
        ex.upstream = None
        self._ex = None
        self._upstream_full = False
        persistent = resp.keep_alive and resp.framing != UNTIL_CLOSE and ex.req.keep_alive
        if upstream is not None:
            if persistent and ex.upstream_reusable and ex.req_done:
                self._pool.release(upstream)
            else:
                upstream.close()
        self._record(ex, "success", None)
        if self._debug:
            logger.debug("%s %s%s -> %d", ex.method, ex.host, ex.path, ex.status)
        if persistent and not ex.close_client and not self._eof:
            self._state = _HEAD
            self.idle_since = time.monotonic()
            self._resume_input()
        else:
            self._close()

    def upstream_lost(self) -> None:
        """The upstream connection of the current exchange closed or hit EOF."""
        ex = self._ex
        if ex is None:
            return
        if self._state == _RAW:
            self._close()
            return
        scanner = ex.resp_scanner
        if scanner is not None and scanner.framing == UNTIL_CLOSE:
            ex.upstream_reusable = False
            self._response_done(ex)
            return
        upstream = ex.upstream
        if (
            not ex.resp_seen
            and not ex.sent_body
            and not ex.retried
            and upstream is not None
            and upstream.reused
        ):
            # The server closed an idle pooled connection just as it was
            # reused; nothing was consumed, so try once on a fresh one.
            ex.retried = True
            ex.upstream = None
            ex.req_done = False
            ex.head_pending = b""
            self._state = _PENDING
            ex.task = asyncio.get_running_loop().create_task(self._connect(ex))
            return
        self._upstream_broken(ex, "the connection closed before the response ended")

    def _upstream_broken(self, ex: Exchange, what: str) -> None:
        reason = f"{ex.key.label}: {what}"
        if ex.resp_started:
            self._record(ex, "failure", reason)
            self._abort()
        else:
            self._fail(ex, 502, f"authsome proxy: {reason}\n", reason=reason)

    # ------------------------------------------------------------ flow control

    def upstream_write_paused(self, paused: bool) -> None:
        self._upstream_full = paused
        self._update_reading()

    def client_write_paused(self, paused: bool) -> None:
        self._client_full = paused
        ex = self._ex
        if ex is not None and ex.upstream is not None:
            if paused:
                ex.upstream.pause_reading()
            else:
                ex.upstream.resume_reading()

    # ---------------------------------------------------------------- endings

    def client_eof(self) -> None:
        """The client will send nothing more."""
        self._eof = True
        if not self._processing:
            self._check_eof()

    def _check_eof(self) -> None:
        state = self._state
        if state == _HEAD and self._ex is None:
            self._close()
        elif state in (_BODY, _RAW):
            ex = self._ex
            if ex is not None:
                self._record(ex, "failure", "the client closed the connection")
            self._abort()

    def client_lost(self) -> None:
        """The client connection is gone."""
        ex = self._ex
        if ex is not None:
            self._record(ex, "failure", "the client closed the connection")
        self._teardown()

    def _fail(self, ex: Exchange, status: int, message: str, *, reason: str | None = None) -> None:
        """Answer an exchange that got no response with an error, then close."""
        ex.status = status
        self._record(ex, "failure", reason or message.strip())
        self._client.write(simple_response(status, message, close=True))
        self._close()

    def _record(self, ex: Exchange, outcome: str, reason: str | None) -> None:
        if ex.run is None or ex.recorded:
            return
        ex.recorded = True
        self._backend.record_request(
            ex.run,
            method=ex.method,
            host=ex.host,
            path=ex.path,
            status=ex.status,
            injection=ex.injection,
            outcome=outcome,
            reason=reason,
            duration_ms=(time.perf_counter() - ex.started) * 1000,
        )

    def _teardown(self) -> None:
        self._state = _CLOSED
        self._inbuf = b""
        ex, self._ex = self._ex, None
        if ex is not None:
            if ex.task is not None:
                ex.task.cancel()
            if ex.upstream is not None:
                ex.upstream.abort()
                ex.upstream = None

    def _close(self) -> None:
        """Finish writing what is queued, then close the client connection."""
        self._teardown()
        self._client.close()

    def _abort(self) -> None:
        """Drop the client connection now (a truncated response stays truncated)."""
        self._teardown()
        self._client.abort()
