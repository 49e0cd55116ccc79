"""``TlsEndpoint`` against a real client TLS session over memory BIOs.

Its read loop stops as soon as nothing undecrypted or decrypted is left
(no ``SSLWantReadError`` per call); these tests pin that no plaintext is
lost or held back when several records, partial records or a
close_notify arrive in one piece.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from authsome.proxy.ca import CertificateAuthority
from authsome.proxy.tls import TlsEndpoint

HOST = "api.provider.test"


class Wire:
    """The transport side of the endpoint: collects what it would send."""

    def __init__(self) -> None:
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.sent += data

    def take(self) -> bytes:
        data, self.sent = bytes(self.sent), bytearray()
        return data


class Client:
    """A real TLS client session over memory BIOs, trusting the proxy CA."""

    def __init__(self, ca_file: Path) -> None:
        context = ssl.create_default_context(cafile=str(ca_file))
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_hostname=HOST)

    def handshake(self, server: TlsEndpoint, wire: Wire) -> None:
        for _ in range(10):
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                done = False
            else:
                done = True
            assert server.receive(self.outgoing.read()) == b""
            self.incoming.write(wire.take())  # with TLS 1.3, the session tickets
            if done:
                assert server.handshake_done
                return
        raise AssertionError("the handshake did not finish")

    def records(self, *payloads: bytes) -> bytes:
        """One TLS record per payload, as the bytes that would go on the wire."""
        for payload in payloads:
            self.obj.write(payload)
        return self.outgoing.read()

    def read_all(self, wire: Wire) -> bytes:
        self.incoming.write(wire.take())
        out = b""
        while True:
            try:
                out += self.obj.read(65536)
            except ssl.SSLWantReadError:
                return out


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Client, TlsEndpoint, Wire]:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    wire = Wire()
    server = TlsEndpoint(ca.server_context(HOST), wire)  # type: ignore[arg-type]
    client = Client(ca_file)
    client.handshake(server, wire)
    return client, server, wire


def test_several_records_in_one_piece_come_out_whole_and_in_order(
    pair: tuple[Client, TlsEndpoint, Wire],
) -> None:
    client, server, _ = pair
    payloads = [b"GET /a HTTP/1.1\r\n", b"Host: x\r\n\r\n", b"GET /b HTTP/1.1\r\n\r\n"]
    assert server.receive(client.records(*payloads)) == b"".join(payloads)
    assert not server.eof


def test_a_record_split_anywhere_is_returned_once_complete(
    pair: tuple[Client, TlsEndpoint, Wire],
) -> None:
    client, server, _ = pair
    for cut in (1, 5, 27, 30, 54):  # inside the first record, at its end, inside the second
        wire_bytes = client.records(b"first", b"second")
        assert cut < len(wire_bytes)
        got = server.receive(wire_bytes[:cut]) + server.receive(wire_bytes[cut:])
        assert got == b"firstsecond", cut


def test_a_big_record_is_read_whole(pair: tuple[Client, TlsEndpoint, Wire]) -> None:
    client, server, _ = pair
    body = bytes(range(256)) * 1024  # 256 KiB: several 16 KiB records
    assert server.receive(client.records(body)) == body


def test_data_then_close_notify_in_one_piece(pair: tuple[Client, TlsEndpoint, Wire]) -> None:
    client, server, _ = pair
    data = client.records(b"last words")
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.unwrap()  # queues close_notify, then waits for ours
    assert server.receive(data + client.outgoing.read()) == b"last words"
    assert server.eof


def test_replies_reach_the_client(pair: tuple[Client, TlsEndpoint, Wire]) -> None:
    client, server, wire = pair
    server.send(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert client.read_all(wire) == b"HTTP/1.1 204 No Content\r\n\r\n"
