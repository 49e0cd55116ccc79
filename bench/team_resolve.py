"""Resolve throughput in team mode: 1 and 2 replicas on PostgreSQL, and SQLite.

    python bench/team_resolve.py            # 10 s per phase, about two and a half minutes
    python bench/team_resolve.py --quick    # 2 s per phase, a smoke run
    python bench/team_resolve.py --seconds 5 --clients 4,16

Prints figures, asserts nothing. Linux only (CPU time from ``/proc``); needs
PostgreSQL's server binaries (Debian's ``postgresql``) and psycopg.

What it sets up, all on loopback in a temporary folder:

- a throwaway PostgreSQL server (``tests/support/postgres.py``: initdb in the
  folder, as the ``postgres`` user when run as root);
- ``authsome daemon serve`` replicas A and B on free ports, each with its own
  home, sharing one database and one ``AUTHSOME_MASTER_KEY``;
- through A's CLI: an identity claimed by an admin principal, an API-key
  provider for ``api.bench.test`` and a connection holding a random key;
- later, one daemon on the embedded SQLite store, set up the same way.

What it measures, each phase for a fixed time after a short warm-up:

- ``POST /resolve`` (what the library calls for a URL's headers), each
  request with a fresh PoP proof signed for the URL of the replica it goes
  to; ``N`` asyncio clients on keep-alive connections, each pinned to one
  replica, split evenly: requests/s, p50, p99;
- ``GET /health`` on the same replicas with the same clients: the ceiling of
  HTTP on this machine, with no proof, no database and no audit event;
- CPU seconds per request of each replica (``/proc/<pid>/stat``), of the
  PostgreSQL server (postmaster and its backends) and of this client, and
  how many connections the replicas opened to the database meanwhile;
- the PoP replay check alone, in-process: the memory cache (SQLite's
  daemon) against the ``pop_replay`` table on SQLite and on PostgreSQL.

Two replicas on one machine share its cores with each other, with
PostgreSQL and with the clients: on two cores that measures contention, not
scaling. CPU per request is the figure that carries over to a bigger host.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx
from main_path import (
    CLOCK_TICKS,
    HOST,
    PATH,
    authsome_command,
    cpu_seconds,
    machine,
    percentile,
    set_up_home,
    show_log_tail,
)

from authsome import __version__
from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from authsome.daemon.services.replay import (
    DatabaseReplayCache,
    MemoryReplayCache,
    ReplayCache,
)
from authsome.store.db import create_store_engine, make_session_factory, migrate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the throwaway PostgreSQL server, the home key
from tests.support.pop import home_key  # noqa: E402
from tests.support.postgres import PostgresServer, postgres_available  # noqa: E402

START_TIMEOUT = 90.0  # a replica migrates an empty database on a busy machine
RESOLVE_BODY = json.dumps({"url": f"https://{HOST}{PATH}", "method": "GET"}).encode()


@dataclass(frozen=True)
class Config:
    seconds: float
    warm_up: float
    clients: tuple[int, ...]
    replay_checks: int


FULL = Config(seconds=10.0, warm_up=1.0, clients=(8, 32), replay_checks=1000)
QUICK = Config(seconds=2.0, warm_up=0.5, clients=(8, 32), replay_checks=300)


# --- processes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Replica:
    name: str
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _started(home: Path, process: subprocess.Popen[bytes]) -> int | None:
    """The API port once this process's daemon.json exists and /health says ok."""
    try:
        record = json.loads((home / "server" / "daemon.json").read_text())
    except (OSError, ValueError):
        return None
    if record.get("pid") != process.pid:
        return None
    try:
        answer = httpx.get(f"{record['url']}/health", timeout=1.0, trust_env=False)
    except httpx.HTTPError:
        return None
    if answer.is_success and answer.json().get("status") == "ok":
        return int(record["api_port"])
    return None


@contextmanager
def daemon(name: str, env: dict[str, str], work: Path) -> Iterator[Replica]:
    """``authsome daemon serve`` on free ports in its own session (Ctrl-C is ours to handle)."""
    home = Path(env["AUTHSOME_HOME"])
    log = work / f"daemon-{name}.log"
    with open(log, "ab") as sink:
        process = subprocess.Popen(
            [*authsome_command(), "daemon", "serve", "--port", "0", "--proxy-port", "0"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while (port := _started(home, process)) is None:
            if process.poll() is not None:
                show_log_tail(log)
                raise SystemExit(f"daemon {name} exited with {process.returncode} while starting")
            if time.monotonic() > deadline:
                show_log_tail(log)
                raise SystemExit(f"daemon {name} did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.1)
        yield Replica(name, process.pid, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer.create()
    try:
        server.start()
        yield server
    finally:
        try:
            server.destroy()
        except Exception as exc:  # still remove what we can; say what may be left
            print(f"could not stop PostgreSQL in {server.root}: {exc}", file=sys.stderr)
            shutil.rmtree(server.root, ignore_errors=True)


def home_env(work: Path, name: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSOME_")}
    return env | {"AUTHSOME_HOME": str(work / name)} | extra


def check_resolve(replica: Replica, key: IdentityKey, expected: str) -> None:
    """One signed resolve answers with exactly the stored key (compared, never printed)."""
    url = f"{replica.url}/resolve"
    proof = sign_proof(key, method="POST", url=url, body=RESOLVE_BODY)
    answer = httpx.post(
        url,
        content=RESOLVE_BODY,
        headers={"DPoP": proof, "content-type": "application/json"},
        timeout=30,
        trust_env=False,
    )
    if answer.status_code != 200:
        raise SystemExit(f"resolve on {replica.name} failed: {answer.status_code} {_code(answer)}")
    if answer.json().get("headers", {}).get("Authorization") != f"Bearer {expected}":
        raise SystemExit(f"resolve on {replica.name} did not return the stored key")


def _code(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("error"))
    except ValueError:
        return "(no JSON)"


# --- CPU -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """The PostgreSQL server the replicas share, watched during each phase."""

    server: PostgresServer
    name: str

    @property
    def postmaster(self) -> int:
        return int((self.server.data_dir / "postmaster.pid").read_text().split()[0])

    def cpu_seconds(self) -> float:
        """The server's CPU: the postmaster, its live backends and the reaped ones."""
        postmaster = self.postmaster
        fields = _stat(postmaster)
        total = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                child = _stat(int(entry.name))
            except OSError:
                continue  # gone meanwhile
            if int(child[1]) == postmaster:
                total += int(child[11]) + int(child[12])
        return total / CLOCK_TICKS

    def sessions(self) -> int:
        """Connections ever opened to the database (a pool that churns shows here)."""
        with self.server.admin_connection() as admin:
            row = admin.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (self.name,)
            ).fetchone()
        return int(str(row[0])) if row else 0


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


# --- load ----------------------------------------------------------------------------


@dataclass
class Tally:
    samples: list[float] = field(default_factory=list)
    ok: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    first_error: str | None = None

    def fail(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what


RequestMaker = Callable[[Replica], bytes]


def resolve_request(key: IdentityKey) -> RequestMaker:
    def make(replica: Replica) -> bytes:
        proof = sign_proof(key, method="POST", url=f"{replica.url}/resolve", body=RESOLVE_BODY)
        head = (
            f"POST /resolve HTTP/1.1\r\nHost: 127.0.0.1:{replica.port}\r\nDPoP: {proof}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(RESOLVE_BODY)}\r\n\r\n"
        )
        return head.encode() + RESOLVE_BODY

    return make


def health_request(replica: Replica) -> bytes:
    return f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{replica.port}\r\n\r\n".encode()


async def _client(replica: Replica, make: RequestMaker, deadline: float, tally: Tally) -> None:
    """One keep-alive connection, requests back to back until ``deadline``."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", replica.port)
    except OSError as exc:
        tally.fail(f"connect: {type(exc).__name__}")
        return
    try:
        while time.perf_counter() < deadline:
            request = make(replica)  # the proof is signed before the clock starts
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(_content_length(head))
            tally.samples.append(time.perf_counter() - started)
            if head.startswith(b"HTTP/1.1 200"):
                tally.ok[replica.name] = tally.ok.get(replica.name, 0) + 1
            else:
                tally.fail(f"{head.split(b' ', 2)[1].decode()} {_error_code(body)}")
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        tally.fail(type(exc).__name__)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    return 0


def _error_code(body: bytes) -> str:
    """The JSON error code of a refusal (never the body of a success: it holds the key)."""
    try:
        return str(json.loads(body).get("error"))
    except (ValueError, AttributeError):
        return "(no JSON)"


def drive(replicas: list[Replica], make: RequestMaker, clients: int, seconds: float) -> Tally:
    """``clients`` connections split evenly over ``replicas`` for ``seconds``."""

    async def main() -> Tally:
        tally = Tally()
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _client(replicas[index % len(replicas)], make, deadline, tally)
                for index in range(clients)
            )
        )
        return tally

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    result: Tally = uvloop.run(main())
    return result


@dataclass(frozen=True)
class Phase:
    store: str
    kind: str
    clients: int
    replicas: list[str]
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    first_error: str | None
    per_replica: dict[str, tuple[int, float]]  # name: (requests, CPU seconds)
    server_cpu: float | None
    server_sessions: int | None
    client_cpu: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def measure(
    store: str,
    kind: str,
    replicas: list[Replica],
    make: RequestMaker,
    clients: int,
    config: Config,
    database: Database | None,
) -> Phase:
    drive(replicas, make, clients, config.warm_up)
    cpu_before = {r.name: cpu_seconds(r.pid) for r in replicas}
    server_before = database.cpu_seconds() if database else 0.0
    sessions_before = database.sessions() if database else 0
    client_before = time.process_time()
    started = time.perf_counter()
    tally = drive(replicas, make, clients, config.seconds)
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    time.sleep(0.5)  # the audit batcher writes the last events within 250 ms
    per_replica = {
        r.name: (tally.ok.get(r.name, 0), cpu_seconds(r.pid) - cpu_before[r.name]) for r in replicas
    }
    samples = tally.samples or [0.0]
    return Phase(
        store=store,
        kind=kind,
        clients=clients,
        replicas=[r.name for r in replicas],
        requests=sum(tally.ok.values()),
        seconds=elapsed,
        p50_ms=percentile(samples, 0.50) * 1e3,
        p99_ms=percentile(samples, 0.99) * 1e3,
        errors=tally.errors,
        first_error=tally.first_error,
        per_replica=per_replica,
        server_cpu=database.cpu_seconds() - server_before if database else None,
        server_sessions=database.sessions() - sessions_before if database else None,
        client_cpu=client_cpu,
    )


def phases_for(
    store: str,
    replicas: list[Replica],
    key: IdentityKey,
    config: Config,
    database: Database | None,
    *,
    health: bool,
) -> list[Phase]:
    kinds: list[tuple[str, RequestMaker]] = [("resolve", resolve_request(key))]
    if health:
        kinds.append(("health", health_request))
    results = []
    for kind, make in kinds:
        for clients in config.clients:
            phase = measure(store, kind, replicas, make, clients, config, database)
            print(f"  {_row(phase)}", flush=True)
            results.append(phase)
    return results


# --- the replay check alone ----------------------------------------------------------


def replay_check_costs(database_url: str, work: Path, count: int) -> dict[str, tuple[float, float]]:
    """Microseconds per check (mean, p99) of each replay cache, in this process."""
    sqlite_engine = create_store_engine(f"sqlite:///{work / 'replay-bench.db'}")
    postgres_engine = create_store_engine(database_url)
    for engine in (sqlite_engine, postgres_engine):
        migrate(engine)
    caches: dict[str, ReplayCache] = {
        "memory (embedded SQLite store)": MemoryReplayCache(),
        "pop_replay table on SQLite": DatabaseReplayCache(
            make_session_factory(sqlite_engine), "sqlite"
        ),
        "pop_replay table on PostgreSQL (team mode)": DatabaseReplayCache(
            make_session_factory(postgres_engine), "postgresql"
        ),
    }
    results = {}
    try:
        for name, cache in caches.items():
            for _ in range(50):
                cache.check_and_remember(secrets.token_urlsafe(16))
            jtis = [secrets.token_urlsafe(16) for _ in range(count)]
            samples = []
            started = time.perf_counter()
            for jti in jtis:
                t0 = time.perf_counter()
                cache.check_and_remember(jti)
                samples.append(time.perf_counter() - t0)
            mean = (time.perf_counter() - started) / count
            results[name] = (mean * 1e6, percentile(samples, 0.99) * 1e6)
    finally:
        sqlite_engine.dispose()
        postgres_engine.dispose()
    return results


# --- report --------------------------------------------------------------------------

HEADER = (
    f"{'store':10} {'replicas':8} {'kind':7} {'clients':>7} {'req/s':>8} {'p50 ms':>7} "
    f"{'p99 ms':>7} {'errors':>6}  {'daemon CPU ms/req (requests), per replica':42} "
    f"{'PG ms/req':>9} {'PG conns':>8} {'client ms/req':>13}"
)


def _row(phase: Phase) -> str:
    per_replica = "  ".join(
        f"{name} {cpu / count * 1e3:.2f} ({count:,})" if count else f"{name} -"
        for name, (count, cpu) in phase.per_replica.items()
    )
    server = (
        f"{phase.server_cpu / phase.requests * 1e3:9.2f}"
        if phase.server_cpu is not None and phase.requests
        else f"{'-':>9}"
    )
    sessions = f"{phase.server_sessions:8,}" if phase.server_sessions is not None else f"{'-':>8}"
    client = phase.client_cpu / phase.requests * 1e3 if phase.requests else 0.0
    row = (
        f"{phase.store:10} {'+'.join(phase.replicas):8} {phase.kind:7} {phase.clients:7} "
        f"{phase.per_second:8,.0f} {phase.p50_ms:7.2f} {phase.p99_ms:7.2f} {phase.errors:6}  "
        f"{per_replica:42} {server} {sessions} {client:13.2f}"
    )
    if phase.first_error:
        row += f"  first error: {phase.first_error}"
    return row


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip()


def commit() -> str:
    try:
        head = _git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return "unknown"
    return head + (" (with uncommitted changes in the tree)" if dirty else "")


def preamble(config: Config, server_version: str) -> None:
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"authsome {__version__} team-mode resolve, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"commit {commit()}")
    print(f"machine: {machine()}; load average at start {load}")
    print(
        f"PostgreSQL {server_version}, a throwaway server (fsync=off, synchronous_commit=off), "
        "one database for the replicas"
    )
    print(
        f"each phase {config.seconds:g} s after {config.warm_up:g} s of warm-up; asyncio "
        "clients on keep-alive connections, each pinned to one replica, split evenly; "
        "a fresh PoP proof per resolve, signed for that replica's URL"
    )
    print()
    print(f"  {HEADER}", flush=True)


def epilogue(phases: list[Phase], replay: dict[str, tuple[float, float]]) -> None:
    print()
    print("PoP replay check alone, in this process (mean / p99 per check):")
    for name, (mean, p99) in replay.items():
        print(f"  {name:44} {mean:9.1f} µs / {p99:9.1f} µs")
    print()
    cores = os.cpu_count() or 0
    print(
        f"This machine has {cores} cores shared by the replicas, PostgreSQL and the clients: "
        "two replicas on it measure contention, not scaling. The steadier figure is the "
        "CPU per request of each replica (and of PostgreSQL), which a host with a core "
        "per replica divides into its throughput ceiling."
    )
    if any(phase.server_sessions for phase in phases):
        print(
            "  PG conns: connections opened to the database during the phase. Each replica's "
            "pool keeps 10 and opens up to 20 more on demand, closing those when they are "
            "returned, so more requests at the database at once than that churn connections "
            "(a PostgreSQL backend started per connection)."
        )
    for phase in phases:
        if phase.kind == "resolve" and phase.requests:
            total = sum(cpu for _, cpu in phase.per_replica.values()) + (phase.server_cpu or 0)
            print(
                f"  {phase.store} {'+'.join(phase.replicas)}, {phase.clients} clients: "
                f"{total / phase.requests * 1e3:.2f} ms of daemon"
                f"{' + PostgreSQL' if phase.server_cpu is not None else ''} CPU per resolve"
            )


# --- main ----------------------------------------------------------------------------


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same clean-up as Ctrl-C


def run(config: Config, work: Path) -> None:
    if not postgres_available():
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    phases: list[Phase] = []
    began = time.monotonic()
    with postgres() as server:
        database_url = server.create_database("bench")
        with server.admin_connection() as admin:
            version = admin.execute("SHOW server_version").fetchone()
        preamble(config, str(version[0] if version else "?"))
        database = Database(server, "bench")
        shared = {
            "AUTHSOME_DATABASE_URL": database_url,
            "AUTHSOME_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        env_a = home_env(work, "a", **shared)
        with daemon("A", env_a, work) as a:
            stored = set_up_home(env_a, work)
            key = home_key(Path(env_a["AUTHSOME_HOME"]))
            with daemon("B", home_env(work, "b", **shared), work) as b:
                for replica in (a, b):
                    check_resolve(replica, key, stored)
                phases += phases_for("postgres", [a], key, config, database, health=True)
                phases += phases_for("postgres", [a, b], key, config, database, health=True)
        env_s = home_env(work, "s")
        with daemon("S", env_s, work) as embedded:
            stored = set_up_home(env_s, work)
            key = home_key(Path(env_s["AUTHSOME_HOME"]))
            check_resolve(embedded, key, stored)
            phases += phases_for("sqlite", [embedded], key, config, None, health=False)
        replay = replay_check_costs(server.create_database("replay"), work, config.replay_checks)
    epilogue(phases, replay)
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"whole run {time.monotonic() - began:.0f} s; load average at the end {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per phase: a smoke run")
    parser.add_argument("--seconds", type=float, help="length of each measured phase")
    parser.add_argument(
        "--clients", help="comma-separated client counts (default 8,32)", metavar="N,N"
    )
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    if args.seconds:
        config = Config(args.seconds, config.warm_up, config.clients, config.replay_checks)
    if args.clients:
        counts = tuple(int(part) for part in args.clients.split(",") if part.strip())
        config = Config(config.seconds, config.warm_up, counts, config.replay_checks)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="authsome-team-bench."))
    try:
        run(config, work)
    except KeyboardInterrupt:
        print("\ninterrupted; everything started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
