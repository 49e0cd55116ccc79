"""``authsome daemon serve|start|stop|restart|status``."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from authsome.cli.output import OutputMode, emit_json, json_option, say
from authsome.home import DEFAULT_API_PORT, DEFAULT_PROXY_PORT, HomeLayout


def _server_options(func: Any) -> Any:
    options = [
        click.option("--host", default=None, help="Address to bind (default 127.0.0.1)."),
        click.option(
            "--port",
            type=int,
            default=None,
            help=f"API port (default {DEFAULT_API_PORT}; 0 picks a free one).",
        ),
        click.option(
            "--proxy-port",
            type=int,
            default=None,
            help=f"Proxy port (default {DEFAULT_PROXY_PORT}; 0 picks a free one).",
        ),
        click.option(
            "--public-url", default=None, help="Public URL; required to bind beyond loopback."
        ),
        click.option(
            "--proxy-resolve",
            "proxy_resolve",
            multiple=True,
            metavar="HOST=IP:PORT",
            help="Send the proxy's upstream traffic for HOST to IP:PORT (repeatable).",
        ),
        click.option(
            "--upstream-ca",
            type=click.Path(dir_okay=False),
            default=None,
            help="Extra CA (PEM) trusted for upstream TLS.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _overrides(**flags: Any) -> dict[str, Any]:
    values = {key: value for key, value in flags.items() if value not in (None, ())}
    if "proxy_resolve" in values:
        values["proxy_resolve"] = list(values["proxy_resolve"])
    return values


def _settings(flags: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from authsome.config import ServerSettings
    from authsome.errors import InvalidInput

    try:
        return ServerSettings(home=HomeLayout.from_env().root, **flags)
    except ValidationError as exc:
        reasons = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise InvalidInput(f"invalid daemon settings: {reasons}") from None


@click.group("daemon")
def daemon() -> None:
    """Run the Authsome daemon (API on 7998, proxy on 7999)."""


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLogLines(logging.Formatter):
    """One JSON object per log record, flushed line by line by the handler."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=True)


@daemon.command("serve")
@_server_options
@json_option
def serve(as_json: bool, **flags: Any) -> None:
    """Run the daemon in the foreground.

    It logs to stderr; with --json each record is a JSON line on stdout
    (ts, level, logger, message: the keys `daemon logs --json` gives), and
    with --quiet only warnings and errors are logged.
    """
    settings = _settings(_overrides(**flags))
    handler = logging.StreamHandler(sys.stdout if as_json else sys.stderr)
    handler.setFormatter(JsonLogLines() if as_json else logging.Formatter(LOG_FORMAT))
    logging.basicConfig(
        level=logging.WARNING if OutputMode.quiet else logging.INFO, handlers=[handler]
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs full URLs at INFO
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from authsome.daemon.server import serve as serve_daemon

    serve_daemon(settings)


@daemon.command("start")
@_server_options
@json_option
def start(as_json: bool, **flags: Any) -> None:
    """Start the daemon in the background (pid and log under AUTHSOME_HOME/server/)."""
    from authsome.client.launcher import start_background
    from authsome.client.settings import DaemonRecord

    layout = HomeLayout.from_env()
    values = _overrides(**flags)
    _settings(values)  # refuse bad flags here, not in the background
    current = _running(layout)
    if current is not None:
        _report(current, as_json, "already running")
        return
    extra: list[str] = []
    for key in ("host", "public_url", "upstream_ca"):
        if key in values:
            extra += [f"--{key.replace('_', '-')}", str(values[key])]
    for entry in values.get("proxy_resolve", []):
        extra += ["--proxy-resolve", entry]
    port = values.get("port", DEFAULT_API_PORT)
    from authsome.cli.output import spinner

    record: DaemonRecord = start_background(
        layout, port=port, proxy_port=values.get("proxy_port"), extra_args=extra, on_wait=spinner
    )
    _report(record, as_json, "started")


def _running(layout: HomeLayout) -> Any:
    from authsome.client.launcher import daemon_answers
    from authsome.client.settings import DaemonRecord

    record = DaemonRecord.read(layout)
    if record is not None and daemon_answers(record.url, record.deployment_id):
        return record
    return None


def _report(record: Any, as_json: bool, what: str) -> None:
    if as_json:
        emit_json(
            {
                "status": what,
                "url": record.url,
                "deployment_id": record.deployment_id,
                "pid": record.pid,
            }
        )
    else:
        say(f"daemon {what}: {record.url} (pid {record.pid})")


@daemon.command("stop")
@json_option
def stop(as_json: bool) -> None:
    """Stop this home's background daemon."""
    from authsome.client.launcher import stop_background

    pid = stop_background(HomeLayout.from_env())
    if as_json:
        emit_json({"stopped": pid is not None, "pid": pid})
    else:
        say(f"daemon stopped (pid {pid})" if pid else "no daemon was running")


@daemon.command("restart")
@_server_options
@json_option
@click.pass_context
def restart(ctx: click.Context, /, as_json: bool, **flags: Any) -> None:
    """Stop, then start the daemon."""
    from authsome.client.launcher import stop_background

    stop_background(HomeLayout.from_env())
    ctx.invoke(start, as_json=as_json, **flags)


@daemon.command("status")
@json_option
def status(as_json: bool) -> None:
    """Say whether this home's daemon is running, and where (exit 9 when it is not)."""
    from authsome.errors import DaemonUnavailable

    layout = HomeLayout.from_env()
    record = _running(layout)
    if record is None:
        raise DaemonUnavailable(
            f"no daemon is running for {layout.root}", hint="authsome daemon start"
        )
    if as_json:
        emit_json({"running": True, "url": record.url, "pid": record.pid, "home": str(layout.root)})
    else:
        say(f"daemon running: {record.url} (pid {record.pid}, deployment {record.deployment_id})")


from authsome.cli.daemon_logs import logs  # noqa: E402 - kept beside the group it joins

daemon.add_command(logs)

COMMANDS = [daemon]
