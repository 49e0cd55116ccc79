"""``authsome run -- CMD``: run an agent behind the daemon's injecting proxy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from authsome.home import HomeLayout, write_private_file

LOOPBACK_NO_PROXY = "localhost,127.0.0.1,::1"
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _system_roots() -> bytes:
    import ssl

    candidates = [ssl.get_default_verify_paths().cafile, "/etc/ssl/certs/ca-certificates.crt"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    import certifi

    return Path(certifi.where()).read_bytes()


def _write_if_changed(path: Path, data: bytes) -> Path:
    if not path.exists() or path.read_bytes() != data:
        write_private_file(path, data)
        path.chmod(0o644)  # public certificates: the child may run as another tool
    return path


def write_ca_files(layout: HomeLayout, ca_pem: str, *, prefix: str = "") -> tuple[Path, Path]:
    """Our CA alone (for Node) and the system roots plus our CA (for everyone else).

    ``prefix`` keeps the local proxy's CA apart from the daemon's.
    """
    layout.ensure_private_dir(layout.client_ca_dir)
    ca = ca_pem.encode()
    ca_file = _write_if_changed(layout.client_ca_dir / f"{prefix}authsome-ca.pem", ca)
    bundle = _system_roots().rstrip(b"\n") + b"\n" + ca
    bundle_file = _write_if_changed(layout.client_ca_dir / f"{prefix}bundle.pem", bundle)
    return ca_file, bundle_file


def child_environment(run: dict[str, Any], ca_file: Path, bundle_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    host = run["proxy_host"]
    shown = f"[{host}]" if ":" in host else host
    proxy_url = f"http://run:{run['token']}@{shown}:{run['proxy_port']}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        env[name] = proxy_url
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK_NO_PROXY
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"):
        env[name] = str(bundle_file)
    env["NODE_EXTRA_CA_CERTS"] = str(ca_file)
    env["NODE_USE_ENV_PROXY"] = "1"
    env.update(run["env"])  # placeholders replace any real key the parent had
    return env


def _parse_connections(values: tuple[str, ...]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for value in values:
        provider, sep, name = value.partition("=")
        if not sep or not provider or not name:
            raise click.BadParameter(f"{value!r} is not PROVIDER=NAME", param_hint="--connection")
        chosen[provider] = name
    return chosen


def run_child(argv: list[str], env: dict[str, str]) -> int:
    """Run the child, pass it our signals, return a shell-style exit code."""
    try:
        child = subprocess.Popen(argv, env=env)
    except FileNotFoundError:
        click.echo(f"authsome: command not found: {argv[0]}", err=True)
        return 127
    except PermissionError:
        click.echo(f"authsome: permission denied: {argv[0]}", err=True)
        return 126
    previous = {
        sig: signal.signal(sig, lambda num, _frame: child.send_signal(num))
        for sig in FORWARDED_SIGNALS
    }
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


@click.command(
    "run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option(
    "--connection",
    "connections",
    multiple=True,
    metavar="PROVIDER=NAME",
    help="Use this connection for PROVIDER instead of its default (repeatable).",
)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    metavar="NAME",
    help="Only let this run use these providers (repeatable).",
)
@click.option(
    "--deny-unmatched",
    is_flag=True,
    help="Refuse (403) hosts that match no provider instead of tunnelling them.",
)
@click.option(
    "--local-proxy",
    is_flag=True,
    help="Run the proxy in this process (automatic for a daemon on another host).",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    connections: tuple[str, ...],
    providers: tuple[str, ...],
    deny_unmatched: bool,
    local_proxy: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with credentials injected by the proxy; it never sees them."""
    _skip_httpx_command_line()
    from authsome.client.api import DaemonClient
    from authsome.client.connect import discover

    layout = HomeLayout.from_env()
    url, key = discover(layout)
    local_proxy = local_proxy or not _is_local_url(url)
    with DaemonClient(url, key) as client:
        session = client.start_run(
            connections=_parse_connections(connections),
            providers=list(providers) or None,
            deny_unmatched=deny_unmatched,
        )
        try:
            if local_proxy:
                code = _run_with_local_proxy(layout, url, key, session, deny_unmatched, command)
            else:
                ca_file, bundle_file = write_ca_files(layout, session["ca_pem"])
                code = run_child(list(command), child_environment(session, ca_file, bundle_file))
        finally:
            client.end_run(session["run_id"])
    sys.exit(code)


def _skip_httpx_command_line() -> None:
    """Keep httpx from importing its own command-line client.

    httpx imports it (with rich and pygments: about 40 ms, a seventh of
    ``authsome run -- true``) whenever those happen to be installed; httpx
    carries on without it when the import fails, and nothing here uses it.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _is_local_url(url: str) -> bool:
    from urllib.parse import urlsplit

    from authsome.loopback import is_loopback_host

    return is_loopback_host(urlsplit(url).hostname or "")


def _run_with_local_proxy(
    layout: HomeLayout,
    url: str,
    key: Any,
    session: dict[str, Any],
    deny_unmatched: bool,
    command: tuple[str, ...],
) -> int:
    """The proxy engine in this process (DESIGN §2b): agent traffic stays on this machine."""
    from authsome.proxy.local_backend import MAX_PENDING_EVENTS, LocalProxy

    proxy = LocalProxy(
        base_url=url,
        key=key,
        run_id=session["run_id"],
        ca_dir=layout.client_ca_dir / "local",
        deny_unmatched=deny_unmatched,
        upstream_ca=_env_path("AUTHSOME_UPSTREAM_CA"),
        resolve_overrides=_env_resolve("AUTHSOME_PROXY_RESOLVE"),
        max_pending_events=_env_count("AUTHSOME_LOCAL_PROXY_MAX_EVENTS", MAX_PENDING_EVENTS),
    )
    try:
        port = proxy.start()
        local = {**session, "token": proxy.token, "proxy_host": "127.0.0.1", "proxy_port": port}
        ca_pem = proxy.ca.cert_pem.decode()
        ca_file, bundle_file = write_ca_files(layout, ca_pem, prefix="local-")
        code = run_child(list(command), child_environment(local, ca_file, bundle_file))
    finally:
        proxy.stop()
    _report_lost_events(proxy.unsent_events, proxy.dropped_events, proxy.unreported_drops)
    return code


def _report_lost_events(unsent: int, dropped: int, unreported: int) -> None:
    """Say on stderr which proxied-request events the daemon's audit log lacks."""
    if dropped:
        told = (
            "the daemon's audit log records how many (audit_dropped)"
            if not unreported
            else f"the daemon was not told of {unreported} of them"
        )
        click.echo(
            f"authsome: {dropped} proxied-request events were dropped because the local "
            f"proxy's queue was full; {told}",
            err=True,
        )
    if unsent:
        click.echo(
            f"authsome: {unsent} proxied-request events could not be sent "
            "to the daemon for its audit log",
            err=True,
        )


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _env_count(name: str, default: int) -> int:
    """A positive whole number from the environment (``default`` when unset)."""
    from authsome.errors import InvalidInput

    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise InvalidInput(f"{name} must be a whole number of at least 1, not {value[:20]!r}")
    return int(value)


def _env_resolve(name: str) -> dict[str, tuple[str, int]]:
    """``HOST=IP:PORT,…`` as the daemon's ``--proxy-resolve`` (tests, split DNS)."""
    from authsome.config import parse_resolve_entry
    from authsome.errors import InvalidInput

    try:
        entries = [part for part in os.environ.get(name, "").split(",") if part.strip()]
        return dict(parse_resolve_entry(entry) for entry in entries)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


COMMANDS = [run]
