"""The stand-in HTTPS provider used by the proxy tests, the demo and the benchmarks."""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import subprocess
import sys
from pathlib import Path

from authsome.testing.upstream import HttpsEchoServer, TestCA


def connect(server: HttpsEchoServer, ca: TestCA) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)


def test_endpoints_over_one_keep_alive_connection() -> None:
    ca = TestCA()
    with HttpsEchoServer(ca, ("api.provider.test",)) as server:
        assert server.url == f"https://127.0.0.1:{server.port}"
        conn = connect(server, ca)
        conn.request("GET", "/anything?x=1", headers={"X-Test": "yes"})
        echo = json.loads(conn.getresponse().read())
        assert echo["method"] == "GET" and echo["target"] == "/anything?x=1"
        assert ["X-Test", "yes"] in echo["headers"]

        conn.request("POST", "/upload", body=b"abc" * 1000)
        upload = json.loads(conn.getresponse().read())
        assert upload == {"bytes": 3000, "sha256": hashlib.sha256(b"abc" * 1000).hexdigest()}

        conn.request("GET", "/download/100000")
        assert len(conn.getresponse().read()) == 100_000

        conn.request("GET", "/status/204")
        response = conn.getresponse()
        assert response.status == 204 and response.read() == b""
        conn.request("GET", "/chunked")
        assert conn.getresponse().read() == b"hello chunked world"
        conn.request("GET", "/sse?count=2&interval=0")
        events = conn.getresponse().read().decode()
        assert events.count("data: event") == 2
        conn.close()
        assert server.connections == 1


def test_plain_http_mode() -> None:
    with HttpsEchoServer(tls=False) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/close-delimited")
        assert conn.getresponse().read() == b"body until close"
        assert server.url.startswith("http://")


def test_runs_as_a_module_and_prints_its_port(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "authsome.testing.upstream",
            "--name",
            "api.demo.test",
            "--ca-out",
            str(ca_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        context = ssl.create_default_context(cafile=str(ca_file))
        context.check_hostname = False  # reached by address; the name is checked below
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        conn.request("GET", "/echo", headers={"Host": "api.demo.test"})
        assert json.loads(conn.getresponse().read())["target"] == "/echo"
        der = conn.sock.getpeercert(binary_form=True)
        assert der is not None and b"api.demo.test" in der
    finally:
        process.terminate()
        assert process.wait(10) is not None
