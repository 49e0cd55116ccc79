"""Figures for Authsome's main path on this machine; prints them, asserts nothing.

    python bench/main_path.py            # about a minute on two cores
    python bench/main_path.py --quick    # a smoke run with few requests

What it sets up (all on loopback, in a temporary AUTHSOME_HOME):

- a stand-in HTTPS API for ``api.bench.test`` (``authsome.testing.upstream``,
  its own process, its own test CA);
- ``authsome daemon serve`` on free ports, its proxy told where
  ``api.bench.test`` lives and which CA to trust for it;
- an identity claimed by an admin principal, a custom API-key provider for
  ``api.bench.test`` and a connection holding a random key.

What it measures:

- sequential keep-alive requests (one ``httpx.Client`` each), direct to the
  upstream vs through the daemon's proxy with a run session's token, in
  alternating rounds: p50, p99 and requests/s per round, medians of rounds;
- the first request on a fresh connection (TLS handshake; for the proxy also
  CONNECT and the run token check), direct vs proxied;
- the daemon's CPU time per proxied request (``/proc/<pid>/stat``) and its
  resident memory when idle;
- a PoP-signed ``GET /whoami`` vs an unsigned ``GET /health`` (keep-alive);
- the first request of a fresh run (new run token, new client: CONNECT,
  both TLS handshakes, the credential), to a host the daemon already knows
  and to one it has never seen (a new leaf certificate, a new upstream
  connection);
- server-sent events: upstream write to client read, direct vs proxied;
- 32 concurrent keep-alive clients: direct, through Authsome and, when
  ``mitmdump`` is available (``--mitmdump PATH``), through mitmproxy;
- wall time of ``authsome run -- true``, and its CPU time;
- daemon cold start to ``/health`` (a new home, then restarts of it), the
  CPU time it took, and its RSS when idle.

Wall times swing with the machine's load; CPU times (user + system, from
``/proc`` and ``getrusage``) much less, so both are printed, with the load
average at the start and the end of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from loadgen import LoadResult, direct, find_mitmdump, mitmdump, run_load, through_proxy

from authsome import __version__
from authsome.client.connect import open_client
from authsome.home import HomeLayout

HOST = "api.bench.test"
PATH = "/v1/echo"
START_TIMEOUT = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Config:
    requests: int
    rounds: int
    fresh: int
    pop: int
    runs: int
    sse_events: int
    load_seconds: float
    load_rounds: int
    restarts: int


FULL = Config(
    requests=2000,
    rounds=5,
    fresh=20,
    pop=1000,
    runs=10,
    sse_events=100,
    load_seconds=5.0,
    load_rounds=3,
    restarts=5,
)
QUICK = Config(
    requests=200,
    rounds=2,
    fresh=5,
    pop=100,
    runs=3,
    sse_events=20,
    load_seconds=1.0,
    load_rounds=1,
    restarts=2,
)
CLIENTS = 32
#: Host names the daemon has never seen: one per fresh-run sample.
NEW_HOSTS = [f"new{index}.bench.test" for index in range(FULL.fresh)]


# --- processes -----------------------------------------------------------------------


def authsome_command() -> list[str]:
    """The ``authsome`` script of this interpreter's environment (what users run)."""
    script = Path(sys.executable).with_name("authsome")
    return [str(script)] if script.exists() else [sys.executable, "-m", "authsome"]


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*authsome_command(), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"authsome {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def wait_for(what: str, probe: Callable[[], Any], process: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode} while starting")
        result = probe()
        if result:
            return result
        time.sleep(0.05)
    raise SystemExit(f"{what} did not start within {START_TIMEOUT:.0f} s")


@contextmanager
def upstream(work: Path) -> Iterator[tuple[int, Path]]:
    """The stand-in API in its own process; yields its port and its CA file."""
    ca_file = work / "upstream-ca.pem"
    out = work / "upstream.out"
    names = [arg for name in [HOST, *NEW_HOSTS] for arg in ("--name", name)]
    with open(out, "wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "authsome.testing.upstream",
                *names,
                "--ca-out",
                str(ca_file),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        port = wait_for("the upstream", lambda: _first_number(out.read_text()), process)
        yield int(port), ca_file
    finally:
        process.terminate()
        process.wait(timeout=10)


def _first_number(text: str) -> str | None:
    for word in text.split():
        if word.isdigit():
            return word
    return None


@contextmanager
def daemon(
    env: dict[str, str], work: Path, upstream_port: int | None = None, ca: Path | None = None
) -> Iterator[int]:
    """``authsome daemon serve`` on free ports; yields its pid once it answers."""
    layout = HomeLayout(Path(env["AUTHSOME_HOME"]))
    args = ["daemon", "serve", "--port", "0", "--proxy-port", "0"]
    if upstream_port is not None and ca is not None:
        for name in [HOST, *NEW_HOSTS]:
            args += ["--proxy-resolve", f"{name}=127.0.0.1:{upstream_port}"]
        args += ["--upstream-ca", str(ca)]
    with open(work / "daemon.log", "ab") as log:
        process = subprocess.Popen(
            [*authsome_command(), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def answers() -> bool:
        try:
            record = json.loads(layout.daemon_json.read_text())
        except (OSError, ValueError):
            return False
        if record.get("pid") != process.pid:
            return False
        try:
            return httpx.get(f"{record['url']}/health", timeout=1.0).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_for("the daemon", answers, process)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def set_up_home(env: dict[str, str], work: Path) -> str:
    """Identity + admin principal, the bench provider, a connection; returns the key."""
    cli(
        env,
        "init",
        "--email",
        "bench@example.com",
        "--password-stdin",
        "--json",
        stdin=secrets.token_urlsafe(18) + "\n",
    )
    provider = {
        "schema_version": 1,
        "name": "bench",
        "display_name": "Bench API",
        "auth_type": "api_key",
        "flow": "api_key",
        "api_url": [HOST, "*.bench.test"],
        "api_key": {
            "header_name": "Authorization",
            "header_prefix": "Bearer",
            "env_var": "BENCH_API_KEY",
        },
    }
    provider_file = work / "bench-provider.json"
    provider_file.write_text(json.dumps(provider))
    cli(env, "provider", "register", str(provider_file))
    key = "bench_" + secrets.token_hex(20)
    cli(env, "login", "bench", "--key-stdin", stdin=key + "\n")
    return key


# --- measuring -----------------------------------------------------------------------


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS  # utime, stime


def cpu_seconds(pid: int) -> float:
    return sum(cpu_split(pid))


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True)
class Round:
    p50_ms: float
    p99_ms: float
    per_second: float


def timed_round(send: Callable[[], object], count: int) -> Round:
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        send()
        samples.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return Round(
        p50_ms=percentile(samples, 0.50) * 1e3,
        p99_ms=percentile(samples, 0.99) * 1e3,
        per_second=count / elapsed,
    )


def median_of(rounds: list[Round], attr: str) -> float:
    return statistics.median(float(getattr(r, attr)) for r in rounds)


def check_echo(response: httpx.Response, key: str) -> None:
    """The upstream answered and saw exactly our key (compared, never printed)."""
    response.raise_for_status()
    headers = {str(k).lower(): str(v) for k, v in _echoed_headers(response.json())}
    if headers.get("authorization") != f"Bearer {key}":
        raise SystemExit("the upstream did not receive the expected Authorization header")


def _echoed_headers(echo: Any) -> list[tuple[Any, Any]]:
    headers = echo.get("headers") if isinstance(echo, dict) else None
    if isinstance(headers, dict):
        return list(headers.items())
    if isinstance(headers, list):
        return [tuple(pair) for pair in headers]
    raise SystemExit("the upstream's answer does not list the headers it received")


class Paths:
    """The two ways to reach the upstream: direct, and through the daemon's proxy."""

    def __init__(self, upstream_port: int, upstream_ca: Path, run: dict[str, Any], key: str):
        self.key = key
        self.port = upstream_port
        self.upstream_ca = upstream_ca
        self.direct_url = f"https://127.0.0.1:{upstream_port}{PATH}"
        self.direct_headers = {"Host": HOST, "Authorization": f"Bearer {key}"}
        self.direct_verify = ssl.create_default_context(cafile=str(upstream_ca))
        self.proxied_url = f"https://{HOST}{PATH}"
        self.proxy = f"http://run:{run['token']}@{run['proxy_host']}:{run['proxy_port']}"
        self.proxied_verify = ssl.create_default_context(cadata=run["ca_pem"])

    def direct_client(self) -> httpx.Client:
        return httpx.Client(verify=self.direct_verify, trust_env=False, timeout=10)

    def proxied_client(self) -> httpx.Client:
        return httpx.Client(
            proxy=self.proxy, verify=self.proxied_verify, trust_env=False, timeout=10
        )

    def direct(self, client: httpx.Client) -> httpx.Response:
        # Connect to the upstream's address but name the API host in SNI and Host,
        # exactly what the proxy does on the agent's behalf.
        return client.get(
            self.direct_url, headers=self.direct_headers, extensions={"sni_hostname": HOST}
        )

    def proxied(self, client: httpx.Client) -> httpx.Response:
        return client.get(self.proxied_url)


def keep_alive_rounds(paths: Paths, config: Config, daemon_pid: int) -> dict[str, Any]:
    direct_rounds: list[Round] = []
    proxied_rounds: list[Round] = []
    with paths.direct_client() as direct, paths.proxied_client() as proxied:
        check_echo(paths.direct(direct), paths.key)
        check_echo(paths.proxied(proxied), paths.key)
        for _ in range(100):  # warm both connections, caches and the daemon's pool
            paths.direct(direct)
            paths.proxied(proxied)
        time.sleep(0.5)
        user_before, system_before = cpu_split(daemon_pid)
        for index in range(config.rounds):
            order = ("direct", "proxied") if index % 2 == 0 else ("proxied", "direct")
            for which in order:
                if which == "direct":
                    direct_rounds.append(
                        timed_round(lambda: _ok(paths.direct(direct)), config.requests)
                    )
                else:
                    proxied_rounds.append(
                        timed_round(lambda: _ok(paths.proxied(proxied)), config.requests)
                    )
        time.sleep(1.0)  # let the daemon flush the audit events of the last round
        user_after, system_after = cpu_split(daemon_pid)
    overheads = [p.p50_ms - d.p50_ms for d, p in zip(direct_rounds, proxied_rounds, strict=True)]
    per_request = 1e6 / (config.rounds * config.requests)
    user_us = (user_after - user_before) * per_request
    system_us = (system_after - system_before) * per_request
    return {
        "direct": direct_rounds,
        "proxied": proxied_rounds,
        "p50_overhead_ms": statistics.median(overheads),
        "daemon_cpu_us_per_request": user_us + system_us,
        "daemon_user_us_per_request": user_us,
        "daemon_system_us_per_request": system_us,
    }


def _ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise SystemExit(f"request failed with {response.status_code}")


def fresh_connections(paths: Paths, config: Config) -> dict[str, float]:
    """Median time of the first request on a new client: handshake(s) included."""
    results: dict[str, float] = {}
    for name, make, send in (
        ("direct", paths.direct_client, paths.direct),
        ("proxied", paths.proxied_client, paths.proxied),
    ):
        samples = []
        for _ in range(config.fresh):
            with make() as client:
                t0 = time.perf_counter()
                _ok(send(client))
                samples.append(time.perf_counter() - t0)
        results[name] = statistics.median(samples) * 1e3
    return results


def pop_vs_bare(config: Config) -> dict[str, float]:
    with open_client() as client:
        for _ in range(50):
            client.health()
            client.whoami()
        bare = timed_round(client.health, config.pop)
        signed = timed_round(client.whoami, config.pop)
    return {
        "health_p50_ms": bare.p50_ms,
        "whoami_p50_ms": signed.p50_ms,
        "health_p99_ms": bare.p99_ms,
        "whoami_p99_ms": signed.p99_ms,
    }


def run_true(env: dict[str, str], config: Config) -> dict[str, float]:
    """Medians of wall time and of CPU time (the command and its child, user + system)."""
    command = [*authsome_command(), "run", "--", "true"]
    walls, cpus = [], []
    for _ in range(config.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command, env=env, check=True, timeout=60)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}


def fresh_runs(paths: Paths, config: Config) -> dict[str, float]:
    """First request of a new run: new token, new client, CONNECT, both handshakes.

    ``known``: a host the daemon has served before (its leaf certificate and
    an upstream connection are ready). ``new``: a host it has never seen, so
    a leaf is minted and a new upstream TCP + TLS connection opened.
    """
    samples: dict[str, list[float]] = {"known": [], "new": []}
    with open_client() as client:
        for index in range(config.fresh):
            for kind, host in (("known", HOST), ("new", NEW_HOSTS[index])):
                run = client.start_run()
                try:
                    fresh = Paths(paths.port, paths.upstream_ca, run, paths.key)
                    with fresh.proxied_client() as http:
                        t0 = time.perf_counter()
                        response = http.get(f"https://{host}{PATH}")
                        samples[kind].append(time.perf_counter() - t0)
                    check_echo(response, paths.key)
                finally:
                    client.end_run(run["run_id"])
    return {kind: statistics.median(values) * 1e3 for kind, values in samples.items()}


def _sse_delays(
    client: httpx.Client, url: str, headers: dict[str, str], extensions: dict[str, Any]
) -> list[float]:
    """Milliseconds from the upstream writing each event to this client reading it."""
    delays = []
    with client.stream("GET", url, headers=headers, extensions=extensions) as response:
        buffer = b""
        for chunk in response.iter_raw():
            now = time.monotonic()  # the upstream stamps events with the same clock
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if line.startswith(b"sent: "):
                        delays.append((now - float(line[6:])) * 1e3)
    return delays


def sse_latency(paths: Paths, config: Config) -> dict[str, float]:
    query = f"/sse?count={config.sse_events}&interval=0.01"
    direct_p50: list[float] = []
    proxied_p50: list[float] = []
    with paths.direct_client() as direct_client, paths.proxied_client() as proxied_client:

        def direct_round() -> None:
            delays = _sse_delays(
                direct_client,
                f"https://127.0.0.1:{paths.port}{query}",
                {"Host": HOST},
                {"sni_hostname": HOST},
            )
            direct_p50.append(percentile(delays, 0.5))

        def proxied_round() -> None:
            delays = _sse_delays(proxied_client, f"https://{HOST}{query}", {}, {})
            proxied_p50.append(percentile(delays, 0.5))

        for index in range(config.rounds):  # alternating, as the keep-alive rounds
            order = (
                (direct_round, proxied_round) if index % 2 == 0 else (proxied_round, direct_round)
            )
            for one_round in order:
                one_round()
    added = [p - d for d, p in zip(direct_p50, proxied_p50, strict=True)]
    return {
        "direct_p50_ms": statistics.median(direct_p50),
        "proxied_p50_ms": statistics.median(proxied_p50),
        "added_p50_ms": statistics.median(added),
    }


def concurrency(
    paths: Paths, config: Config, daemon_pid: int, work: Path, mitm_binary: str | None
) -> dict[str, Any]:
    """32 keep-alive clients for a few seconds each: direct, Authsome, mitmproxy."""
    token = paths.proxy.split("run:", 1)[1].split("@", 1)[0]
    proxy_port = int(paths.proxy.rsplit(":", 1)[1])
    ways = {
        "direct": direct(paths.port, paths.direct_verify, HOST),
        "authsome": through_proxy(
            proxy_port, f"{HOST}:443", paths.proxied_verify, HOST, auth=f"run:{token}"
        ),
    }
    results: dict[str, list[LoadResult]] = {name: [] for name in ways}
    cpu = {"authsome": 0.0}
    with contextlib.ExitStack() as stack:
        if mitm_binary is not None:
            mitm = stack.enter_context(mitmdump(mitm_binary, work, paths.upstream_ca, paths.key))
            mitm_verify = ssl.create_default_context(cafile=str(mitm.ca_file))
            ways["mitmproxy"] = through_proxy(
                mitm.port, f"127.0.0.1:{paths.port}", mitm_verify, "127.0.0.1"
            )
            results["mitmproxy"] = []
            cpu["mitmproxy"] = 0.0
            pids = {"authsome": daemon_pid, "mitmproxy": mitm.pid}
        else:
            pids = {"authsome": daemon_pid}
        for connect in ways.values():  # warm-up: leaves, pools, caches
            run_load(connect, HOST, PATH, CLIENTS, 0.5)
        for index in range(config.load_rounds):
            order = list(ways) if index % 2 == 0 else list(reversed(ways))
            for name in order:
                before = cpu_seconds(pids[name]) if name in pids else 0.0
                results[name].append(run_load(ways[name], HOST, PATH, CLIENTS, config.load_seconds))
                if name in pids:
                    cpu[name] += cpu_seconds(pids[name]) - before
    summary: dict[str, Any] = {}
    for name, rounds in results.items():
        total = sum(r.requests for r in rounds)
        summary[name] = {
            "per_second": statistics.median(r.per_second for r in rounds),
            "errors": sum(r.errors for r in rounds),
            "resets": sum(r.resets for r in rounds),
            "cpu_us": cpu[name] / total * 1e6 if name in cpu and total else None,
        }
    return summary


def cold_starts(base_env: dict[str, str], work: Path, config: Config) -> dict[str, Any]:
    """Process start to the first ``/health`` answer: a new home, then restarts of it."""
    home = work / "cold-home"
    env = dict(base_env, AUTHSOME_HOME=str(home))
    layout = HomeLayout(home)
    samples: list[float] = []
    cpu_samples: list[float] = []
    first = 0.0
    idle_rss = 0
    for index in range(config.restarts + 1):
        t0 = time.perf_counter()
        process = subprocess.Popen(
            [*authsome_command(), "daemon", "serve", "--port", "0", "--proxy-port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            elapsed = _until_healthy(layout, process, t0)
            if index == 0:
                first = elapsed
            else:
                samples.append(elapsed)
                cpu_samples.append(cpu_seconds(process.pid))
            if index == config.restarts:
                time.sleep(2.0)
                idle_rss = memory_kib(process.pid, "VmRSS")
        finally:
            process.terminate()
            process.wait(timeout=15)
    return {
        "first_s": first,
        "restart_s": statistics.median(samples),
        "restart_cpu_s": statistics.median(cpu_samples),
        "idle_rss_kib": idle_rss,
    }


def _until_healthy(layout: HomeLayout, process: subprocess.Popen[bytes], t0: float) -> float:
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while time.perf_counter() - t0 < START_TIMEOUT:
            if process.poll() is not None:
                raise SystemExit(f"the daemon exited with {process.returncode} while starting")
            try:
                record = json.loads(layout.daemon_json.read_text())
                if (
                    record.get("pid") == process.pid
                    and client.get(f"{record['url']}/health").is_success
                ):
                    return time.perf_counter() - t0
            except (OSError, ValueError, KeyError, httpx.HTTPError):
                pass
            time.sleep(0.002)
    raise SystemExit("the daemon did not answer /health in time")


def show_log_tail(log: Path, lines: int = 20) -> None:
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    print("last lines of the daemon log:\n" + "\n".join(tail), file=sys.stderr)


# --- report --------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, httpx {httpx.__version__}"
    )


def load_note(start: tuple[float, float, float], end: tuple[float, float, float]) -> str:
    """The load average around the run, and a warning when the machine was busy."""
    shown = "load average (1, 5, 15 min): " + ", ".join(
        f"{when} {'/'.join(f'{value:.1f}' for value in load)}"
        for when, load in (("start", start), ("end", end))
    )
    # Judged at the start: by the end, the run's own three processes count too.
    if start[0] > (os.cpu_count() or 1):
        shown += (
            "\nthe machine was busy before the run (more runnable processes than cores): "
            "wall times are inflated, CPU times less so"
        )
    return shown


def report(config: Config, figures: dict[str, Any]) -> None:
    kept = figures["keep_alive"]
    direct_rounds, proxied_rounds = kept["direct"], kept["proxied"]
    print(f"authsome {__version__} main path, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(load_note(figures["load_start"], figures["load_end"]))
    print(figures["bytecode"])
    print()
    print(
        f"{config.requests:,} sequential keep-alive requests per round, "
        f"{config.rounds} rounds each, alternating; per-round figures, then the median"
    )
    for name, rounds in (("direct", direct_rounds), ("proxied", proxied_rounds)):
        per_round = "  ".join(f"{r.p50_ms:.2f}/{r.p99_ms:.2f}/{r.per_second:,.0f}" for r in rounds)
        print(f"  {name:8} p50/p99 ms/req/s: {per_round}")
        print(
            f"  {'':8} median p50 {median_of(rounds, 'p50_ms'):.3f} ms, "
            f"p99 {median_of(rounds, 'p99_ms'):.3f} ms, "
            f"{median_of(rounds, 'per_second'):,.0f} req/s"
        )
    print(
        f"  proxy overhead, p50: +{kept['p50_overhead_ms']:.3f} ms "
        "(median of per-round differences)"
    )
    print(
        f"  daemon CPU per proxied request: {kept['daemon_cpu_us_per_request']:.0f} µs "
        f"({kept['daemon_user_us_per_request']:.0f} user, "
        f"{kept['daemon_system_us_per_request']:.0f} system)"
    )
    fresh = figures["fresh"]
    print(
        f"first request on a new connection (median of {config.fresh}): "
        f"direct {fresh['direct']:.2f} ms, proxied {fresh['proxied']:.2f} ms"
    )
    runs = figures["fresh_runs"]
    print(
        f"first request of a fresh run (median of {config.fresh}): known host "
        f"{runs['known']:.2f} ms, never-seen host {runs['new']:.2f} ms"
    )
    sse = figures["sse"]
    print(
        "server-sent events, upstream write to client read (p50, median of "
        f"{config.rounds} alternating rounds of {config.sse_events}): "
        f"direct {sse['direct_p50_ms']:.3f} ms, proxied {sse['proxied_p50_ms']:.3f} ms, "
        f"added {sse['added_p50_ms']:+.3f} ms"
    )
    print(
        f"{CLIENTS} concurrent keep-alive clients, {config.load_rounds} rounds of "
        f"{config.load_seconds:.0f} s each:"
    )
    for name, row in figures["concurrency"].items():
        cpu = f", {row['cpu_us']:.0f} µs CPU per request" if row["cpu_us"] else ""
        print(
            f"  {name:9} {row['per_second']:7,.0f} req/s, {row['errors']} errors, "
            f"{row['resets']} resets{cpu}"
        )
    if "mitmproxy" not in figures["concurrency"]:
        print("  mitmproxy: not measured (no mitmdump; pass --mitmdump PATH)")
    pop = figures["pop"]
    print(
        f"daemon API, {config.pop:,} keep-alive requests each: "
        f"GET /health p50 {pop['health_p50_ms']:.3f} ms (p99 {pop['health_p99_ms']:.3f}), "
        f"PoP-signed GET /whoami p50 {pop['whoami_p50_ms']:.3f} ms "
        f"(p99 {pop['whoami_p99_ms']:.3f})"
    )
    run_true_figures = figures["run_true"]
    print(
        f"authsome run -- true: median {run_true_figures['wall_s'] * 1e3:.0f} ms of "
        f"{config.runs} (CPU, user + system: median {run_true_figures['cpu_s'] * 1e3:.0f} ms)"
    )
    cold = figures["cold"]
    print(
        f"daemon start to /health: new home {cold['first_s']:.2f} s, restart median "
        f"{cold['restart_s']:.2f} s of {config.restarts} (CPU {cold['restart_cpu_s']:.2f} s); "
        "idle RSS after a restart "
        f"{cold['idle_rss_kib'] / 1024:.1f} MiB"
    )
    mib = {name: figures[name] / 1024 for name in figures if name.endswith("_kib")}
    print(
        f"daemon memory: RSS {mib['start_rss_kib']:.1f} MiB when started, "
        f"{mib['idle_rss_kib']:.1f} MiB idle after set-up (peak so far "
        f"{mib['setup_peak_kib']:.1f}), {mib['loaded_rss_kib']:.1f} MiB after all "
        f"requests, peak {mib['peak_rss_kib']:.1f} MiB"
    )
    print()
    print("targets (issue 7):")
    for label, value, ok in targets(figures):
        print(f"  {'ok  ' if ok else 'MISS'} {label}: {value}")


def targets(figures: dict[str, Any]) -> list[tuple[str, str, bool]]:
    kept = figures["keep_alive"]
    direct_rounds, proxied_rounds = kept["direct"], kept["proxied"]
    p99_added = median_of(proxied_rounds, "p99_ms") - median_of(direct_rounds, "p99_ms")
    ratio = median_of(proxied_rounds, "per_second") / median_of(direct_rounds, "per_second")
    load = figures["concurrency"]
    authsome, direct_load = load["authsome"], load["direct"]
    if "mitmproxy" in load:
        versus = authsome["per_second"] / load["mitmproxy"]["per_second"]
        concurrent = (f"{versus:.1f}x mitmproxy", versus >= 4)
    else:
        share = authsome["per_second"] / direct_load["per_second"]
        concurrent = (f"{share:.0%} of direct", share >= 0.85)
    clean = authsome["errors"] == 0 and authsome["resets"] == 0
    cold = figures["cold"]
    idle = min(figures["idle_rss_kib"], cold["idle_rss_kib"]) / 1024
    return [
        (
            "p50 added <= 0.5 ms",
            f"+{kept['p50_overhead_ms']:.3f} ms",
            kept["p50_overhead_ms"] <= 0.5,
        ),
        ("p99 added <= 1.5 ms", f"{p99_added:+.3f} ms", p99_added <= 1.5),
        ("sequential req/s >= 60 % of direct", f"{ratio:.0%}", ratio >= 0.6),
        (
            "proxy CPU <= 200 µs per request",
            f"{kept['daemon_cpu_us_per_request']:.0f} µs",
            kept["daemon_cpu_us_per_request"] <= 200,
        ),
        (f"{CLIENTS} clients: >= 4x mitmproxy or >= 85 % of direct", *concurrent),
        (
            f"{CLIENTS} clients: 0 errors, 0 resets",
            f"{authsome['errors']} errors, {authsome['resets']} resets",
            clean,
        ),
        (
            "first request of a fresh run <= 10 ms (never-seen host)",
            f"{figures['fresh_runs']['new']:.2f} ms",
            figures["fresh_runs"]["new"] <= 10,
        ),
        (
            "SSE added <= 1 ms p50",
            f"{figures['sse']['added_p50_ms']:+.3f} ms",
            figures["sse"]["added_p50_ms"] <= 1,
        ),
        (
            "authsome run -- true <= 0.3 s",
            f"{figures['run_true']['wall_s']:.3f} s",
            figures["run_true"]["wall_s"] <= 0.3,
        ),
        (
            "daemon restart to /health <= 1.0 s",
            f"{cold['restart_s']:.2f} s",
            cold["restart_s"] <= 1,
        ),
        (
            "daemon first start on a new home to /health <= 1.0 s",
            f"{cold['first_s']:.2f} s",
            cold["first_s"] <= 1,
        ),
        ("daemon idle RSS <= 80 MiB", f"{idle:.1f} MiB", idle <= 80),
    ]


def bytecode_cache(env: dict[str, str], work: Path) -> str:
    """Give the processes started here a bytecode cache, as an installed package has.

    pip compiles a package's modules when it installs it. An environment that
    sets PYTHONDONTWRITEBYTECODE (CI images often do) would instead make
    every process measured here compile Authsome's own modules again, which
    is not what a user's start costs. The cache lives in the temporary folder.
    """
    if not env.get("PYTHONDONTWRITEBYTECODE"):
        return "bytecode: cached as usual"
    del env["PYTHONDONTWRITEBYTECODE"]
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return (
        "bytecode: PYTHONDONTWRITEBYTECODE was set; the processes measured use a bytecode "
        "cache in the temporary folder instead, as an installed package would"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few requests: a smoke run")
    parser.add_argument(
        "--mitmdump", metavar="PATH", help="mitmproxy's mitmdump, for the concurrency comparison"
    )
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    mitm_binary = find_mitmdump(args.mitmdump)

    work = Path(tempfile.mkdtemp(prefix="authsome-bench."))
    home = work / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSOME_")}
    env["AUTHSOME_HOME"] = str(home)
    bytecode = bytecode_cache(env, work)
    os.environ.clear()
    os.environ.update(env)  # open_client() in this process reads the same home
    figures: dict[str, Any] = {"load_start": os.getloadavg(), "bytecode": bytecode}
    try:
        with upstream(work) as (port, ca), daemon(env, work, port, ca) as pid:
            time.sleep(0.5)
            figures["start_rss_kib"] = memory_kib(pid, "VmRSS")
            key = set_up_home(env, work)
            time.sleep(1.0)
            figures["idle_rss_kib"] = memory_kib(pid, "VmRSS")
            figures["setup_peak_kib"] = memory_kib(pid, "VmHWM")
            with open_client() as client:
                run = client.start_run()
                try:
                    paths = Paths(port, ca, run, key)
                    figures["keep_alive"] = keep_alive_rounds(paths, config, pid)
                    figures["fresh"] = fresh_connections(paths, config)
                    figures["sse"] = sse_latency(paths, config)
                    figures["concurrency"] = concurrency(paths, config, pid, work, mitm_binary)
                finally:
                    client.end_run(run["run_id"])
            figures["fresh_runs"] = fresh_runs(paths, config)
            figures["pop"] = pop_vs_bare(config)
            figures["run_true"] = run_true(env, config)
            figures["loaded_rss_kib"] = memory_kib(pid, "VmRSS")
            figures["peak_rss_kib"] = memory_kib(pid, "VmHWM")
        figures["cold"] = cold_starts(env, work, config)
    except BaseException:
        show_log_tail(work / "daemon.log")
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["load_end"] = os.getloadavg()
    report(config, figures)


if __name__ == "__main__":
    main()
