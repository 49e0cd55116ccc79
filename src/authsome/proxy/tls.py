"""Server-side TLS over an existing transport, driven by memory BIOs.

``loop.start_tls()`` cannot take bytes the proxy has already read, yet a
client may send its ClientHello in the same packet as the CONNECT (or
before the 200 reply has been processed). Feeding a ``MemoryBIO`` ourselves
makes that case ordinary: whatever followed the CONNECT head is simply the
first input of the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

_READ_SIZE = 256 * 1024


class TlsEndpoint:
    """Decrypts what the client sends and encrypts what the proxy writes back."""

    __slots__ = ("_incoming", "_obj", "_outgoing", "_transport", "eof", "handshake_done")

    def __init__(self, context: ssl.SSLContext, transport: asyncio.Transport) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._transport = transport
        self.handshake_done = False
        self.eof = False

    def receive(self, data: bytes) -> bytes:
        """Feed ciphertext; return the plaintext it completes (``eof`` set at close_notify).

        Raises ``ssl.SSLError`` when the handshake or a record fails.
        """
        if data:
            self._incoming.write(data)
        if not self.handshake_done:
            try:
                self._obj.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                return b""
            self.handshake_done = True
            self._flush()
        chunks: list[bytes] = []
        obj, incoming = self._obj, self._incoming
        try:
            # Read while undecrypted or decrypted bytes remain, so the usual
            # case (one record in, one read) raises no SSLWantReadError.
            while True:
                chunk = obj.read(_READ_SIZE)
                if not chunk:
                    self.eof = True
                    break
                chunks.append(chunk)
                if not incoming.pending and not obj.pending():
                    break
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            self.eof = True
        if self._outgoing.pending:
            # TLS 1.3 key updates and session tickets.
            self._flush()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def receive_eof(self) -> bytes:
        """The TCP stream ended: return any last plaintext and mark the end."""
        self._incoming.write_eof()
        plaintext = self.receive(b"") if self.handshake_done else b""
        self.eof = True
        return plaintext

    def send(self, data: bytes) -> None:
        self._obj.write(data)
        self._transport.write(self._outgoing.read())

    def close_notify(self) -> None:
        """Queue a TLS close_notify alert, if the session is still up."""
        if not self.handshake_done:
            return
        with contextlib.suppress(ssl.SSLError, ValueError):
            self._obj.unwrap()
        self._flush()

    def _flush(self) -> None:
        if self._outgoing.pending:
            self._transport.write(self._outgoing.read())
