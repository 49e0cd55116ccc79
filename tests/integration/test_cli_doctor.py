"""`authsome doctor`: a ✔ line per passing check, ✖ with the fix otherwise, exit 0 only
when all pass; the same as JSON. Failing checks are made real: loose modes, an
unclaimed identity, no daemon, a proxy CA near its end, a daemon whose clock is off
(its Date header shifted by a forwarder), a database with damaged pages."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine

from authsome.daemon.services.doctor import store_integrity
from tests.support.daemon import Daemon, base_env, run_cli, start_daemon

CHECKS = [
    "home_permissions",
    "key_files",
    "daemon",
    "version",
    "clock",
    "identity",
    "vault",
    "store",
    "providers",
    "proxy_ca",
]


def test_all_checks_pass(claimed: Daemon) -> None:
    human = claimed.cli("doctor")
    assert human.code == 0, human.out + human.err
    lines = human.out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"✔ {name}" for name in CHECKS]
    as_json = claimed.cli("doctor", "--json")
    assert as_json.code == 0
    assert as_json.json["ok"] is True
    assert [c["name"] for c in as_json.json["checks"]] == CHECKS
    assert all(c["ok"] for c in as_json.json["checks"])
    assert claimed.cli("doctor", "--quiet").out == ""


def test_loose_permissions_fail_with_the_fix(claimed: Daemon) -> None:
    key = next((claimed.home / "client" / "identities").glob("*.key"))
    key.chmod(0o644)
    claimed.home.chmod(0o755)
    try:
        human = claimed.cli("doctor")
        assert human.code == 1
        assert f"✖ home_permissions: readable by others: {claimed.home}" in human.out
        assert f"    fix: chmod 700 {claimed.home}" in human.out
        assert f"    fix: chmod 600 {key}" in human.out
        assert "✔ vault:" in human.out  # the rest still runs
        # Reported, and then repaired by the checks that use the key (IdentityKey.load).
        assert key.stat().st_mode & 0o777 == 0o600
        key.chmod(0o644)
        as_json = claimed.cli("doctor", "--json")
        assert as_json.code == 1 and as_json.json["ok"] is False
        failed = {c["name"]: c["fix"] for c in as_json.json["checks"] if not c["ok"]}
        assert failed == {
            "home_permissions": f"chmod 700 {claimed.home}",
            "key_files": f"chmod 600 {key}",
        }
    finally:
        key.chmod(0o600)
        claimed.home.chmod(0o700)


def test_unclaimed_identity(daemon: Daemon) -> None:
    assert daemon.cli("identity", "create").code == 0  # registered, not claimed
    result = daemon.cli("doctor", "--json")
    assert result.code == 1
    checks = {c["name"]: c for c in result.json["checks"]}
    assert checks["daemon"]["ok"] and checks["version"]["ok"] and checks["clock"]["ok"]
    assert not checks["identity"]["ok"] and "pending" in checks["identity"]["detail"]
    assert "authsome init --email" in checks["identity"]["fix"]
    assert not checks["vault"]["ok"] and checks["vault"]["detail"].startswith("not checked")


def test_no_daemon(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home", AUTHSOME_BASE_URL="http://127.0.0.1:9")
    result = run_cli(["doctor"], env)
    assert result.code == 1
    assert "✖ home_permissions:" in result.out  # the home was never made
    assert "✖ daemon: no daemon answers at http://127.0.0.1:9" in result.out
    assert "    fix: authsome daemon start" in result.out
    assert not (tmp_path / "home" / "server").exists()  # doctor starts nothing


def _resign_ca(home: Path, lifetime: timedelta) -> None:
    """Re-issue the proxy CA certificate (same key) so that it expires after ``lifetime``."""
    ca_dir = home / "server" / "ca"
    old = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + lifetime)
    )
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    cert = builder.sign(key, hashes.SHA256())
    (ca_dir / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_a_proxy_ca_expiring_within_30_days_fails(claimed: Daemon) -> None:
    assert claimed.stop() == 0
    _resign_ca(claimed.home, timedelta(days=20))
    restarted = start_daemon(claimed.home)
    try:
        human = restarted.cli("doctor")
        assert human.code == 1, human.out
        assert "✖ proxy_ca: the proxy CA expires in 19 days" in human.out
        assert "    fix: move server/ca aside, then authsome daemon restart" in human.out
        as_json = restarted.cli("doctor", "--json").json
        failed = [c["name"] for c in as_json["checks"] if not c["ok"]]
        assert failed == ["proxy_ca"]
    finally:
        restarted.stop()
    _resign_ca(claimed.home, timedelta(days=45))  # past the 30 days: passes again
    again = start_daemon(claimed.home)
    try:
        assert again.cli("doctor").code == 0
    finally:
        again.stop()


class _SkewedClock(ThreadingHTTPServer):
    """Forwards every request to the daemon and shifts its Date header by ``skew`` seconds,
    as a daemon on a machine whose clock is off would answer."""

    def __init__(self, upstream: str, skew: float) -> None:
        self.upstream = upstream
        self.skew = skew
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: _SkewedClock

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        answer = httpx.request(
            self.command, self.server.upstream + self.path, headers=headers, content=body
        )
        self.send_response_only(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("date", "content-length", "transfer-encoding", "server"):
                self.send_header(name, value)
        shifted = parsedate_to_datetime(answer.headers["date"]).timestamp() + self.server.skew
        self.send_header("Date", formatdate(shifted, usegmt=True))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _forward

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize("skew", [-120, 120])
def test_clock_skew_against_the_daemon_fails(claimed: Daemon, skew: int) -> None:
    server = _SkewedClock(claimed.url, skew)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = claimed.cli("doctor", "--json", env={"AUTHSOME_BASE_URL": server.url})
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 1
    clock = next(c for c in result.json["checks"] if c["name"] == "clock")
    assert clock["ok"] is False
    # The daemon's clock is ``skew`` off ours, so ours is ``-skew`` off its (±2 s: the
    # Date header has whole seconds).
    shown = re.match(r"this clock is ([+-]\d+) s off the daemon's", clock["detail"])
    assert shown is not None, clock["detail"]
    assert abs(int(shown.group(1)) + skew) <= 2, clock["detail"]
    assert clock["fix"] == "sync the clocks (e.g. enable NTP)"
    # Through the same forwarder without a skew, the clock check passes.
    same = _SkewedClock(claimed.url, 0)
    thread = threading.Thread(target=same.serve_forever, daemon=True)
    thread.start()
    try:
        fine = claimed.cli("doctor", "--json", env={"AUTHSOME_BASE_URL": same.url})
    finally:
        same.shutdown()
        same.server_close()
    assert next(c for c in fine.json["checks"] if c["name"] == "clock")["ok"] is True


def test_a_damaged_store_fails_its_integrity_check(tmp_path: Path) -> None:
    database = tmp_path / "damaged.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        db.execute("CREATE INDEX t_v ON t (v)")
        db.executemany("INSERT INTO t (v) VALUES (?)", [(f"value {i:06d}",) for i in range(5000)])
    engine = create_engine(f"sqlite:///{database}")
    try:
        assert store_integrity(engine).ok
        engine.dispose()
        data = bytearray(database.read_bytes())
        page = 4096
        for offset in range(page * (len(data) // page // 2), len(data) - page, page * 3):
            data[offset + 100 : offset + 400] = os.urandom(300)  # damage inside b-tree pages
        database.write_bytes(bytes(data))
        damaged = store_integrity(engine)
    finally:
        engine.dispose()
    assert damaged.ok is False and damaged.name == "store"
    assert damaged.fix is not None and "restore" in damaged.fix
