"""Two daemon replicas on one PostgreSQL database, behind a small TCP balancer.

Both replicas get the same ``AUTHSOME_MASTER_KEY`` and the same
``--public-url`` (the balancer's address): clients sign proofs for that URL,
and the balancer hands each TCP connection to the replica the test chooses
(or alternately). Everything a request needs must therefore come from the
database, never from one replica's memory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select

from authsome.client.api import DaemonClient
from authsome.crypto.pop import sign_proof
from authsome.daemon.services.reveal import open_connection
from authsome.daemon.services.vaults import VaultKeys
from authsome.store.db import create_store_engine, make_session_factory
from authsome.store.models import Connection, Vault
from tests.adversarial.ledger import Ledger
from tests.conftest import EMAIL, PASSWORD
from tests.integration.oauth.conftest import (
    LoginProcess,
    provider_definitions,
    wait_until_expired,
)
from tests.support.daemon import Daemon, start_daemon
from tests.support.oauth_browser import ScriptedBrowser
from tests.support.oauth_server import STATIC_CLIENT, OAuthServer, require_server
from tests.support.pop import home_key
from tests.support.web import Browser


class Balancer:
    """A TCP forwarder on a free loopback port: each connection goes to ``pick()``."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.backends: list[int] = []
        self.pinned: int | None = None
        self._turn = itertools.count()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pick(self) -> int:
        if self.pinned is not None:
            return self.pinned
        return self.backends[next(self._turn) % len(self.backends)]

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.pick()), timeout=10)
            except OSError:
                client.close()
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _port(daemon: Daemon) -> int:
    return int(daemon.url.rsplit(":", 1)[1])


@dataclass
class Team:
    a: Daemon
    b: Daemon
    balancer: Balancer
    database_url: str
    tmp: Path
    outputs: list[str] = field(default_factory=list)

    @property
    def public(self) -> str:
        return self.balancer.url

    def as_public(self, headers: dict[str, str]) -> dict[str, str]:
        """Headers for a request sent to one replica directly, as the balancer
        would forward it: with the public Host the client signed its proof for."""
        return headers | {"Host": f"127.0.0.1:{self.balancer.port}"}

    def pin(self, daemon: Daemon | None) -> None:
        self.balancer.pinned = None if daemon is None else _port(daemon)

    def cli(self, *args: str, input: str | None = None, timeout: float = 60) -> Any:
        """The CLI of replica A's home, talking to the balancer."""
        result = self.a.cli(
            *args, input=input, env={"AUTHSOME_BASE_URL": self.public}, timeout=timeout
        )
        self.outputs.extend([result.out, result.err])
        return result

    def client(self) -> DaemonClient:
        """A signed in-process client through the balancer."""
        return DaemonClient(self.public, home_key(self.a.home))

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return list(conn.execute(query, params).fetchall())

    def stop(self) -> None:
        """Stop both replicas and the balancer."""
        self.a.stop()
        self.b.stop()
        self.balancer.close()


def _start_team(tmp_path: Path, database_url: str, *extra: str) -> Team:
    balancer = Balancer()
    key = base64.b64encode(os.urandom(32)).decode()
    env = {"AUTHSOME_DATABASE_URL": database_url, "AUTHSOME_MASTER_KEY": key}
    args = ("--public-url", balancer.url, *extra)
    a = start_daemon(tmp_path / "a", *args, env=env, timeout=60)
    try:
        b = start_daemon(tmp_path / "b", *args, env=env, timeout=60)
    except BaseException:
        a.stop()
        raise
    balancer.backends = [_port(a), _port(b)]
    team = Team(a, b, balancer, database_url, tmp_path)
    init = team.cli("init", "--email", EMAIL, "--password-stdin", input=PASSWORD + "\n")
    if init.code != 0:
        team.stop()
    assert init.code == 0, init.err
    return team


@pytest.fixture
def team(tmp_path: Path, postgres_url: str) -> Iterator[Team]:
    running = _start_team(tmp_path, postgres_url)
    try:
        yield running
    finally:
        running.stop()


def test_a_proof_used_on_a_is_refused_on_b(team: Team) -> None:
    key = home_key(team.a.home)
    url = team.public + "/whoami"
    proof = sign_proof(key, method="GET", url=url)
    first = httpx.get(team.a.url + "/whoami", headers=team.as_public({"DPoP": proof}), timeout=10)
    assert first.status_code == 200, first.text
    again = httpx.get(team.b.url + "/whoami", headers=team.as_public({"DPoP": proof}), timeout=10)
    assert again.status_code == 401, again.text
    assert again.json()["error"] == "pop_replayed"
    # A fresh proof works on B: B refused the replay, not the identity.
    fresh = sign_proof(key, method="GET", url=url)
    assert httpx.get(
        team.b.url + "/whoami", headers=team.as_public({"DPoP": fresh}), timeout=10
    ).is_success
    assert team.sql("SELECT count(*) FROM pop_replay")[0][0] >= 3


def test_a_browser_session_made_on_a_works_on_b(team: Team) -> None:
    with Browser(team.a.url) as on_a, Browser(team.b.url) as on_b:
        on_a.login(EMAIL, PASSWORD)
        for name, value in on_a.http.cookies.items():
            on_b.http.cookies.set(name, value)
        page = on_b.get("/ui/settings")
        assert page.status_code == 200, page.text
        # A form on B with the CSRF token of the session made on A: sign out there.
        out = on_b.post("/logout", form_page="/ui/settings")
        assert out.status_code == 303, out.text
        assert on_a.get("/ui/settings").headers["location"].startswith("/login")


class _ToReplica(httpx.HTTPTransport):
    """The browser's requests for the public origin go to one replica."""

    def __init__(self, public: str, replica: str) -> None:
        super().__init__()
        self._public = httpx.URL(public)
        self._replica = httpx.URL(replica)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self._public.host and request.url.port == self._public.port:
            request.url = request.url.copy_with(port=self._replica.port)
        return super().handle_request(request)


def _register_providers(team: Team, server: OAuthServer) -> None:
    """Register the test server's providers, then wait until both replicas know them.

    Another replica reloads custom providers from the change feed, within about
    one poll interval (services/shared_changes.py): the tests start after that.
    """
    definitions = provider_definitions(server)
    with team.client() as api:
        for definition in definitions:
            api.register_provider(definition)
    wanted = {definition["name"] for definition in definitions}
    deadline = time.monotonic() + 10
    for replica in (team.a, team.b):
        team.pin(replica)
        with team.client() as api:
            while not wanted <= {p["name"] for p in api.providers()}:
                assert time.monotonic() < deadline, "a replica never loaded the new providers"
                time.sleep(0.05)
    team.pin(None)


def _oauth_team(
    tmp_path: Path, postgres_url: str, **server_options: Any
) -> Iterator[tuple[Team, OAuthServer]]:
    """A team with the test authorization server (``OAuthServer(**server_options)``)
    and its providers registered on both replicas."""
    require_server()  # skipped without node and `npm ci`, failed under CI
    with OAuthServer(**server_options) as server:
        running = _start_team(tmp_path, postgres_url)
        try:
            _register_providers(running, server)
            yield running, server
        finally:
            running.stop()


@pytest.fixture
def oauth_team(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Team, OAuthServer]]:
    yield from _oauth_team(tmp_path, postgres_url, access_ttl=4)


def _login_started_on_a_finished_on_b(team: Team) -> None:
    team.pin(team.a)  # the CLI's requests (start, polling) all reach A
    login = LoginProcess(
        ("oauthco", "--no-browser", "--client-stdin"),
        team.a.env | {"AUTHSOME_BASE_URL": team.public},
        f"{STATIC_CLIENT[0]}\n{STATIC_CLIENT[1]}\n",
    )
    url = login.wait_for(r"(http://127\.0\.0\.1:\d+/oidc/auth\?\S+)").group(1)
    with ScriptedBrowser() as browser:
        browser.http = httpx.Client(
            timeout=15, trust_env=False, transport=_ToReplica(team.public, team.b.url)
        )
        page = browser.open(url)
    assert page.final.status_code == 200, page.final.text
    assert page.final.url.port == _port(team.b)  # the callback was served by B
    result = login.finish()
    assert result.code == 0, result.err
    team.pin(None)


def test_a_login_started_on_a_completes_through_a_callback_on_b(
    oauth_team: tuple[Team, OAuthServer],
) -> None:
    team, server = oauth_team
    _login_started_on_a_finished_on_b(team)
    rows = team.sql("SELECT status FROM auth_sessions")
    assert [row[0] for row in rows] == ["complete"]
    # Either replica now hands out the token the callback on B stored.
    team.pin(team.b)
    with team.client() as api:
        on_b = api.resolve("https://api.oauthco.test/v1/me")["headers"]["Authorization"]
    team.pin(team.a)
    with team.client() as api:
        on_a = api.resolve("https://api.oauthco.test/v1/me")["headers"]["Authorization"]
    assert on_a == on_b == f"Bearer {server.issued('AccessToken')[-1]}"


def _expires_at(team: Team) -> str:
    with team.client() as api:
        found = [c for c in api.connections() if c["provider"] == "oauthco"]
    return str(found[0]["expires_at"])


def test_fifty_resolves_across_both_replicas_refresh_once(
    oauth_team: tuple[Team, OAuthServer],
) -> None:
    team, server = oauth_team
    _login_started_on_a_finished_on_b(team)
    # Nobody has used the token, so no replica refreshes it in the background:
    # after expiry every resolve needs the refresh, on either replica.
    wait_until_expired(_expires_at(team))
    assert server.token_requests("refresh_token") == []

    def resolve(index: int) -> str:
        replica = team.a if index % 2 == 0 else team.b
        key = home_key(team.a.home)
        body = json.dumps({"url": "https://api.oauthco.test/v1/me", "method": "GET"}).encode()
        proof = sign_proof(key, method="POST", url=team.public + "/resolve", body=body)
        answer = httpx.post(
            replica.url + "/resolve",
            content=body,
            headers=team.as_public({"DPoP": proof, "content-type": "application/json"}),
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["headers"]["Authorization"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        headers = set(pool.map(resolve, range(50)))
    assert len(server.token_requests("refresh_token")) == 1
    assert headers == {f"Bearer {server.issued('AccessToken')[-1]}"}
    # A second refresh with the rotated token would have revoked the whole grant.
    assert server.introspect(server.issued("RefreshToken")[-1])["active"]


def test_audit_chain_verifies_with_both_replicas_writing(team: Team) -> None:
    def whoami(index: int) -> None:
        replica = team.a if index % 2 == 0 else team.b
        key = home_key(team.a.home)
        proof = sign_proof(key, method="GET", url=team.public + "/whoami")
        assert httpx.get(
            replica.url + "/whoami", headers=team.as_public({"DPoP": proof}), timeout=30
        ).is_success

    def api_key_login(index: int) -> None:
        team.pin(team.a if index % 2 == 0 else team.b)
        with team.client() as api:
            api.login_api_key("openai", "sk-" + "x" * 40, connection=f"c{index}")

    # Writes from both replicas at once: logins (events in the same transaction),
    # and the daemons' own batched events.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(whoami, range(20)))
    for index in range(6):
        api_key_login(index)
    team.pin(None)
    with ThreadPoolExecutor(max_workers=6) as pool:
        logins = list(
            pool.map(
                lambda i: team.cli(
                    "login", "openai", "--connection", f"d{i}", "--key-stdin",
                    input="sk-" + "y" * 40 + "\n",
                ),
                range(6),
            )
        )  # fmt: skip
    assert [login.code for login in logins] == [0] * 6, [login.err for login in logins]
    starts = team.sql("SELECT count(*) FROM audit_events WHERE event = 'daemon_started'")
    assert starts[0][0] == 2
    verify = team.cli("log", "--verify")
    assert verify.code == 0, verify.out + verify.err
    ids = [row[0] for row in team.sql("SELECT id FROM audit_events ORDER BY id")]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gap, no duplicate


def test_killing_a_replica_mid_request_leaves_the_other_serving(team: Team) -> None:
    """SIGKILL A while requests run on both: B keeps answering and A's half-done
    transactions leave nothing behind (the audit chain still verifies)."""
    stop = threading.Event()
    failures_on_b: list[str] = []

    def hammer(replica: Daemon, failures: list[str] | None) -> int:
        done = 0
        key = home_key(team.a.home)
        while not stop.is_set():
            proof = sign_proof(key, method="GET", url=team.public + "/whoami")
            try:
                answer = httpx.get(
                    replica.url + "/whoami", headers=team.as_public({"DPoP": proof}), timeout=10
                )
            except httpx.HTTPError as exc:
                if failures is not None:
                    failures.append(type(exc).__name__)
                continue
            if failures is not None and answer.status_code != 200:
                failures.append(answer.text)
            done += 1
        return done

    with ThreadPoolExecutor(max_workers=4) as pool:
        on_a = [pool.submit(hammer, team.a, None) for _ in range(2)]
        on_b = [pool.submit(hammer, team.b, failures_on_b) for _ in range(2)]
        time.sleep(1.5)
        os.kill(team.a.process.pid, signal.SIGKILL)
        team.a.process.wait(timeout=10)
        time.sleep(2.0)
        stop.set()
        served_by_b = sum(f.result() for f in on_b)
        for f in on_a:
            f.result()
    assert failures_on_b == []
    assert served_by_b > 10
    team.pin(team.b)
    login = team.cli("login", "openai", "--key-stdin", input="sk-" + "z" * 40 + "\n")
    assert login.code == 0, login.err
    verify = team.cli("log", "--verify")
    assert verify.code == 0, verify.out + verify.err
    ids = [row[0] for row in team.sql("SELECT id FROM audit_events ORDER BY id")]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


# --- kill -9 of a replica during writes ------------------------------------------------

KILL_WRITES_ON_A = 120  # all on the wire before A's first answer is read
KILL_AFTER_A_ACKS = (15, 45)  # acknowledged writes on A before the kill
KILL_SOURCES = tuple(
    f"127.0.0.{n}" for n in range(2, 6)
)  # A's writes stay under the per-client cap
WRITERS_ON_B = 3


@dataclass
class WriteTally:
    """What the clients saw: names acknowledged (201) by each replica, and the rest."""

    kill_at: int
    sent_to_a: int = 0
    acked_a: set[str] = field(default_factory=set)
    acked_b: set[str] = field(default_factory=set)
    acked_b_after_kill: int = 0
    cut_off_a: int = 0
    answered_a_at_kill: int | None = None
    other_answers: list[str] = field(default_factory=list)

    def report(self) -> str:
        return (
            f"kill after {self.kill_at} acks on A; sent to A {self.sent_to_a}, acked "
            f"{len(self.acked_a)}, cut off {self.cut_off_a}, answered at the kill "
            f"{self.answered_a_at_kill}; B acked {len(self.acked_b)} "
            f"({self.acked_b_after_kill} after the kill); other answers {self.other_answers[:5]}"
        )


async def _post_connection(
    team: Team,
    replica: Daemon,
    name: str,
    api_key: str,
    source: str,
    *,
    on_sent: Callable[[], None] = lambda: None,
    read_after: asyncio.Event | None = None,
) -> bytes:
    """POST /connections straight to ``replica`` as the balancer forwards it (public
    Host, proof signed for the public URL), on a connection of its own from ``source``.

    The raw answer, or b"" when the connection closed without one. The answer is
    read once ``read_after`` is set (if given), after ``on_sent`` was called.
    """
    body = json.dumps({"provider": "openai", "connection": name, "api_key": api_key}).encode()
    proof = sign_proof(
        home_key(team.a.home), method="POST", url=team.public + "/connections", body=body
    )
    head = (
        f"POST /connections HTTP/1.1\r\nHost: 127.0.0.1:{team.balancer.port}\r\n"
        f"DPoP: {proof}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", _port(replica), local_addr=(source, 0)
        )
    except OSError:
        return b""
    try:
        writer.write(head.encode("ascii") + body)
        await writer.drain()
        on_sent()
        if read_after is not None:
            await read_after.wait()
        return await reader.read()
    except OSError:
        return b""
    finally:
        writer.close()


def _status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode("latin-1")[:60]


async def _write_while_killing_a(
    team: Team, api_key: Callable[[str], str], tally: WriteTally
) -> None:
    """Writes on A (all in flight, A killed after ``tally.kill_at`` acks) and a steady
    stream of writes on B, from before the kill until a second after it."""
    all_sent = asyncio.Event()
    killed = asyncio.Event()
    names_on_b = (f"b{i:04d}" for i in itertools.count())

    def one_more_sent() -> None:
        tally.sent_to_a += 1
        if tally.sent_to_a == KILL_WRITES_ON_A:
            all_sent.set()

    async def write_on_a(index: int) -> None:
        name = f"a{index:04d}"
        source = KILL_SOURCES[index % len(KILL_SOURCES)]
        answer = await _post_connection(
            team, team.a, name, api_key(name), source, on_sent=one_more_sent, read_after=all_sent
        )
        if not answer:
            tally.cut_off_a += 1  # A died under this request: not acknowledged
        elif answer.startswith(b"HTTP/1.1 201 "):
            tally.acked_a.add(name)
            if len(tally.acked_a) >= tally.kill_at and not killed.is_set():
                tally.answered_a_at_kill = len(tally.acked_a) + len(tally.other_answers)
                os.kill(team.a.process.pid, signal.SIGKILL)
                killed.set()
        else:
            tally.other_answers.append("A: " + _status_line(answer))

    async def write_on_b() -> None:
        stop_at: float | None = None
        while stop_at is None or time.monotonic() < stop_at:
            name = next(names_on_b)
            answer = await _post_connection(team, team.b, name, api_key(name), "127.0.0.1")
            if answer.startswith(b"HTTP/1.1 201 "):
                tally.acked_b.add(name)
                tally.acked_b_after_kill += killed.is_set()
            else:
                tally.other_answers.append("B: " + _status_line(answer))
            if stop_at is None and killed.is_set():
                stop_at = time.monotonic() + 1.0

    async def give_up() -> None:
        await asyncio.sleep(30)
        all_sent.set()  # some request to A never went out: let the others read
        killed.set()  # and stop B; the asserts report what happened

    watchdog = asyncio.create_task(give_up())
    await asyncio.gather(
        *(write_on_a(index) for index in range(KILL_WRITES_ON_A)),
        *(write_on_b() for _ in range(WRITERS_ON_B)),
    )
    watchdog.cancel()


def _resolve_on(team: Team, replica: Daemon, name: str) -> str | None:
    """The Authorization header ``replica`` resolves for connection ``name``."""
    body = json.dumps({"url": "https://api.openai.com/v1/models", "connection": name}).encode()
    proof = sign_proof(
        home_key(team.a.home), method="POST", url=team.public + "/resolve", body=body
    )
    answer = httpx.post(
        replica.url + "/resolve",
        content=body,
        headers=team.as_public({"DPoP": proof, "content-type": "application/json"}),
        timeout=30,
    )
    if answer.status_code != 200:
        return None
    return str(answer.json()["headers"].get("Authorization"))


def _open_api_keys(team: Team) -> dict[str, str]:
    """Every stored openai connection's key, decrypted as the daemon does (with the
    team's master key and each field's record-bound context)."""
    keys = VaultKeys(base64.b64decode(team.b.env["AUTHSOME_MASTER_KEY"]))
    engine = create_store_engine(team.database_url)
    try:
        with make_session_factory(engine)() as session:
            opened = {}
            for connection in session.scalars(
                select(Connection).where(Connection.provider == "openai")
            ):
                vault = session.get(Vault, connection.vault_id)
                assert vault is not None
                revealed = open_connection(session, keys, vault, connection, include_refresh=False)
                opened[connection.name] = revealed.fields["api_key"]
            return opened
    finally:
        engine.dispose()


def test_killing_a_replica_during_writes_loses_no_acknowledged_write(team: Team) -> None:
    """SIGKILL A while connection writes run on A and B: B keeps acknowledging
    writes; every write either replica acknowledged is stored and decrypts to its
    key; no connection lacks its secret or its login event; the chain verifies."""
    ledger = Ledger()
    for replica in (team.a, team.b):
        ledger.watch_home(replica.home, replica.log_path)
    marker = ledger.plant("replica")

    def api_key(name: str) -> str:
        return f"sk-{marker}x{name}"

    with team.client() as api:  # the default connection exists before the race
        api.login_api_key("openai", api_key("first"), connection="first")
    tally = WriteTally(kill_at=random.SystemRandom().randint(*KILL_AFTER_A_ACKS))

    asyncio.run(_write_while_killing_a(team, api_key, tally))
    team.a.process.wait(timeout=10)
    assert team.a.process.returncode == -signal.SIGKILL, tally.report()
    assert tally.answered_a_at_kill is not None, f"the kill never came: {tally.report()}"
    assert tally.sent_to_a == KILL_WRITES_ON_A, f"not all writes were in flight: {tally.report()}"
    assert tally.answered_a_at_kill < KILL_WRITES_ON_A - 30, f"killed too late: {tally.report()}"
    assert tally.cut_off_a > 0, f"nothing was in flight on A: {tally.report()}"
    assert not tally.other_answers, tally.report()
    assert tally.acked_b_after_kill > 0, f"B served nothing after the kill: {tally.report()}"

    stored = {str(row[0]) for row in team.sql("SELECT name FROM connections")}
    acknowledged = tally.acked_a | tally.acked_b | {"first"}
    lost = acknowledged - stored
    assert not lost, f"{len(lost)} acknowledged writes lost: {tally.report()}"
    without_secret = team.sql(
        "SELECT c.name FROM connections c LEFT JOIN connection_secrets s "
        "ON s.connection_id = c.id AND s.field = 'api_key' WHERE s.connection_id IS NULL"
    )
    assert without_secret == [], f"connections without their key: {without_secret}"
    logins = dict(
        team.sql(
            "SELECT connection, count(*) FROM audit_events "
            "WHERE event = 'login' AND provider = 'openai' GROUP BY connection"
        )
    )
    assert logins == dict.fromkeys(stored, 1), "a login event without its connection, or back"

    # Every stored connection (acknowledged, or committed as A died) decrypts to
    # exactly the key written for it, and B resolves it: all those A committed
    # without answering, and a sample of the acknowledged ones (a resolve costs
    # tens of ms on a busy machine; the decryption above covers every row).
    opened = _open_api_keys(team)
    wrong = sorted(name for name in stored if opened.get(name) != api_key(name))
    assert not wrong, f"{len(wrong)} of {len(stored)} do not decrypt: {tally.report()}"
    pick = random.SystemRandom()
    on_b = sorted(
        stored - acknowledged
        | set(pick.sample(sorted(tally.acked_a), min(10, len(tally.acked_a))))
        | set(pick.sample(sorted(tally.acked_b), min(10, len(tally.acked_b))))
        | {"first"}
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        resolved = pool.map(lambda name: _resolve_on(team, team.b, name), on_b)
        headers = dict(zip(on_b, resolved, strict=True))
    wrong = sorted(name for name, header in headers.items() if header != f"Bearer {api_key(name)}")
    assert not wrong, f"B resolves {wrong} wrongly: {tally.report()}"

    team.pin(team.b)
    verify = team.cli("log", "--verify")
    assert verify.code == 0, verify.out + verify.err
    ids = [row[0] for row in team.sql("SELECT id FROM audit_events ORDER BY id")]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    ledger.record(*team.outputs, repr(team.sql("SELECT * FROM audit_events")))
    assert not ledger.leaks(), ledger.leaks()
