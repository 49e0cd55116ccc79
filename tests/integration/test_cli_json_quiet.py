"""Every leaf command under `--json` and `-q`, through the console script, against real daemons.

`--json`: stdout is one JSON document (JSON lines for streams) on success and
`{"error", "message"}` on failure (doctor adds both to its report). `run` is
the documented exception: its COMMAND's output is COMMAND's own.
`-q`: nothing on success but the raw data a command exists to print (exported
variables, revealed values, the completion script, log lines); tables, field
lists and messages are left out; a failure is one `error:` line on stderr.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from authsome.cli.main import COMMAND_INDEX, cli
from tests.support.cli import EMAIL, PASSWORD, api_key_provider, register_provider, start_claimed
from tests.support.daemon import AUTHSOME, CliResult, Daemon, base_env, run_cli
from tests.support.postgres import use_postgres

OPENAI_KEY = "sk-proj-JSONQUIETtests0123456789abcd"
PW = PASSWORD + "\n"


@dataclass
class Homes:
    """``fg``: a claimed daemon run by the test; ``bg``: one run by `daemon start`;
    ``empty``: a home where nothing ever ran. ``paths`` fill ``{name}`` in arguments."""

    fg: Daemon
    bg_env: dict[str, str]
    empty_env: dict[str, str]
    paths: dict[str, str]

    def cli(self, where: str, args: list[str], stdin: str | None) -> CliResult:
        env = {"fg": self.fg.env, "bg": self.bg_env, "empty": self.empty_env}[where]
        return run_cli(args, env, input=stdin)

    def fg_ok(self, *args: str, stdin: str | None = None) -> CliResult:
        result = self.fg.cli(*args, input=stdin)
        assert result.code == 0, (args, result.err)
        return result

    def bg_ok(self, *args: str, stdin: str | None = None) -> CliResult:
        result = run_cli(args, self.bg_env, input=stdin)
        assert result.code == 0, (args, result.err)
        return result


def _bg_started(homes: Homes) -> dict[str, str]:
    homes.bg_ok("daemon", "start", "--port", "0", "--proxy-port", "0")
    return {}


def _bg_stopped(homes: Homes) -> dict[str, str]:
    homes.bg_ok("daemon", "stop")
    return {}


def _bg_backup_then_stop(homes: Homes) -> dict[str, str]:
    _bg_started(homes)
    homes.bg_ok("vault", "backup", homes.paths["bg_backup"], "--overwrite")
    return _bg_stopped(homes)


def _tempco(homes: Homes, *, login: bool = False) -> dict[str, str]:
    register_provider(homes.fg, api_key_provider("tempco", "api.tempco.test"))
    if login:
        homes.fg_ok("login", "tempco", "--key-stdin", "--force", stdin="tempco-key-123\n")
    return {}


def _plainco_login(homes: Homes) -> dict[str, str]:
    homes.fg_ok("login", "plainco", "--key-stdin", "--force", stdin="plainco-key-456\n")
    return {}


def _new_identity(homes: Homes) -> dict[str, str]:
    return {"new": homes.fg_ok("identity", "create", "--json").json["handle"]}


def _me(homes: Homes) -> dict[str, str]:
    return {"me": homes.fg_ok("whoami", "--json").json["handle"]}


Setup = Callable[[Homes], dict[str, str]]
Quiet = str | Callable[[str], bool]


@dataclass(frozen=True)
class Ok:
    """A run that succeeds; ``json`` is doc, lines or passthrough; ``quiet`` the -q stdout."""

    args: tuple[str, ...]
    stdin: str | None = None
    where: str = "fg"
    json: str = "doc"
    quiet: Quiet = ""
    before: Setup | None = None


@dataclass(frozen=True)
class Fails:
    args: tuple[str, ...]
    code: int
    error: str
    stdin: str | None = None
    where: str = "fg"


def _lines(count: int) -> Callable[[str], bool]:
    return lambda out: len(out.splitlines()) == count and out.endswith("\n")


SUCCESSES = [
    Ok(("whoami",)),
    Ok(("connections", "list")),
    Ok(("connections", "inspect", "openai")),
    Ok(
        ("connections", "inspect", "openai", "--reveal", "--password-stdin"),
        PW,
        quiet=f"api_key: {OPENAI_KEY}\n",
    ),
    Ok(("connections", "set-default", "openai", "default")),
    Ok(("provider", "list", "--search", "open")),
    Ok(("provider", "inspect", "openai")),
    Ok(("provider", "register", "{provider_file}", "--force")),
    Ok(("provider", "remove", "tempco"), before=_tempco),
    Ok(("provider", "revoke", "tempco", "--yes"), before=lambda h: _tempco(h, login=True)),
    Ok(("export", "openai", "--password-stdin"), PW, quiet=f"export OPENAI_API_KEY={OPENAI_KEY}\n"),
    Ok(("login", "plainco", "--key-stdin", "--force"), "plainco-key-789\n"),
    Ok(("logout", "plainco"), before=_plainco_login),
    Ok(("identity", "list")),
    Ok(("identity", "use", "{me}"), before=_me),
    Ok(
        (
            "identity",
            "create",
        )
    ),
    Ok(("identity", "revoke", "{new}", "--yes"), before=_new_identity),
    Ok(("identity", "grant", "--password-stdin"), PW),
    Ok(("init", "--email", EMAIL, "--password-stdin"), PW),
    Ok(("log", "-n", "3"), json="lines"),
    Ok(("scan", "{scan_dir}", "--no-environment")),
    Ok(("doctor",)),
    Ok(("completion", "bash"), quiet=lambda out: "_AUTHSOME_COMPLETE" in out),
    Ok(("vault", "rotate-key")),
    Ok(("vault", "backend", "file")),
    Ok(("vault", "backup", "{backup}", "--overwrite")),
    Ok(("run", "--", "echo", "hi"), json="passthrough", quiet="hi\n"),
    Ok(("daemon", "start", "--port", "0", "--proxy-port", "0"), where="bg", before=_bg_stopped),
    Ok(
        (
            "daemon",
            "status",
        ),
        where="bg",
        before=_bg_started,
    ),
    Ok(("daemon", "logs", "-n", "2"), where="bg", json="lines", quiet=_lines(2)),
    Ok(("daemon", "restart", "--port", "0", "--proxy-port", "0"), where="bg"),
    Ok(
        (
            "daemon",
            "stop",
        ),
        where="bg",
        before=_bg_started,
    ),
    Ok(("vault", "restore", "{bg_backup}", "--force"), where="bg", before=_bg_backup_then_stop),
]

FAILURES = [
    Fails(("whoami", "--bogus"), 2, "usage_error"),
    Fails(("connections", "list", "extra"), 2, "usage_error"),
    Fails(("connections", "inspect", "openai", "nope"), 3, "connection_not_found"),
    Fails(("connections", "inspect", "openai", "--reveal"), 4, "forbidden"),
    Fails(("connections", "set-default", "openai", "nope"), 3, "connection_not_found"),
    Fails(("provider", "list", "--auth-type", "bogus"), 2, "usage_error"),
    Fails(("provider", "inspect", "nope"), 4, "provider_not_found"),
    Fails(("provider", "register", "{provider_file}"), 7, "provider_exists"),
    Fails(("provider", "remove", "openai"), 4, "forbidden"),
    Fails(("provider", "revoke", "openai"), 2, "invalid_request"),
    Fails(("export", "openai"), 4, "forbidden"),
    Fails(("login", "openai", "--key-stdin"), 6, "connection_exists", OPENAI_KEY + "\n"),
    Fails(("logout", "openai", "--connection", "nope"), 3, "connection_not_found"),
    Fails(("refresh", "openai"), 2, "invalid_request"),
    Fails(("identity", "list", "extra"), 2, "usage_error"),
    Fails(("identity", "use", "no-such-identity"), 2, "identity_unknown"),
    Fails(("identity", "revoke", "some-identity"), 2, "usage_error"),  # no --yes, no terminal
    Fails(
        ("identity", "create", "--email", EMAIL, "--password-stdin"),
        2,
        "authentication_failed",
        "wrong password\n",
    ),
    Fails(("identity", "grant", "--password-stdin"), 2, "authentication_failed", "wrong\n"),
    Fails(("init", "--email", EMAIL, "--password-stdin"), 2, "authentication_failed", "wrong\n"),
    Fails(("log", "--since", "bogus"), 2, "invalid_request"),
    Fails(("log", "--verify", "--since", "1h"), 2, "usage_error"),
    Fails(("scan", "/nonexistent/authsome"), 2, "usage_error"),
    Fails(("doctor",), 1, "checks_failed", where="empty"),
    Fails(("completion", "tcsh"), 2, "usage_error"),
    Fails(("vault", "rotate-key", "extra"), 2, "usage_error"),
    Fails(("vault", "backend", "bogus"), 2, "usage_error"),
    Fails(("vault", "backup", "{provider_file}"), 2, "invalid_request"),
    Fails(("vault", "restore", "/nonexistent/backup"), 2, "usage_error"),
    Fails(("run", "--connection", "bad", "--", "true"), 2, "usage_error"),
    Fails(("daemon", "serve", "--host", "0.0.0.0"), 2, "invalid_request", where="empty"),
    Fails(("daemon", "start", "--host", "0.0.0.0"), 2, "invalid_request", where="empty"),
    Fails(("daemon", "restart", "--host", "0.0.0.0"), 2, "invalid_request", where="empty"),
    Fails(
        (
            "daemon",
            "status",
        ),
        9,
        "daemon_unavailable",
        where="empty",
    ),
    Fails(
        (
            "daemon",
            "logs",
        ),
        9,
        "daemon_unavailable",
        where="empty",
    ),
    Fails(("daemon", "stop", "extra"), 2, "usage_error", where="empty"),
]


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homes]:
    root = tmp_path_factory.mktemp("json-quiet")
    fg = start_claimed(root / "fg")
    bg_env = base_env(root / "bg")
    try:
        assert fg.cli("login", "openai", "--key-stdin", input=OPENAI_KEY + "\n").code == 0
        register_provider(fg, api_key_provider("plainco", "api.plainco.test"))
        provider_file = root / "plainco.json"
        provider_file.write_text(json.dumps(api_key_provider("plainco", "api.plainco.test")))
        scan_dir = root / "project"
        scan_dir.mkdir()
        (scan_dir / ".env").write_text(f"OPENAI_API_KEY={OPENAI_KEY}\n")
        paths = {
            "provider_file": str(provider_file),
            "scan_dir": str(scan_dir),
            "backup": str(root / "fg.backup"),
            "bg_backup": str(root / "bg.backup"),
        }
        homes = Homes(fg, bg_env, base_env(root / "empty"), paths)
        homes.bg_ok("daemon", "start", "--port", "0", "--proxy-port", "0")
        homes.bg_ok("init", "--email", EMAIL, "--password-stdin", stdin=PW)
        yield homes
    finally:
        run_cli(["daemon", "stop"], bg_env)
        fg.stop()


def _args(homes: Homes, args: tuple[str, ...], extra: dict[str, str]) -> list[str]:
    values = homes.paths | extra
    return [arg.format(**values) if arg.startswith("{") else arg for arg in args]


def _run(homes: Homes, case: Ok, flag: str) -> CliResult:
    extra = case.before(homes) if case.before else {}
    args = _args(homes, case.args, extra)
    if case.json == "passthrough":
        args.insert(args.index("--"), flag)  # before COMMAND, which would otherwise get it
    else:
        args.append(flag)
    result = homes.cli(case.where, args, case.stdin)
    assert result.code == 0, (args, result.err)
    return result


def _label(case: Ok | Fails) -> str:
    return " ".join(case.args)


#: vault backup and restore cover the built-in SQLite store only (PostgreSQL: pg_dump).
SQLITE_ONLY = {("vault", "backup"), ("vault", "restore")}
sqlite_backups = pytest.mark.skipif(
    use_postgres(), reason="vault backup/restore cover the built-in SQLite store only"
)


def _params(cases: list[Ok]) -> list[Any]:
    return [
        pytest.param(case, marks=sqlite_backups if case.args[:2] in SQLITE_ONLY else ())
        for case in cases
    ]


@pytest.mark.parametrize("case", _params(SUCCESSES), ids=_label)
def test_success_json_and_quiet(homes: Homes, case: Ok) -> None:
    as_json = _run(homes, case, "--json")
    if case.json == "doc":
        json.loads(as_json.out)  # exactly one document
        assert as_json.out.strip().startswith(("{", "["))
    elif case.json == "lines":
        rows = [json.loads(line) for line in as_json.out.splitlines()]
        assert rows and all(isinstance(row, dict) for row in rows)
    elif case.json == "passthrough":
        assert as_json.out == "hi\n"  # the child's own output, untouched
    quiet = _run(homes, case, "-q")
    assert quiet.err == ""
    if callable(case.quiet):
        assert case.quiet(quiet.out), quiet.out
    else:
        assert quiet.out == case.quiet


@pytest.mark.parametrize("case", FAILURES, ids=_label)
def test_failure_json_and_quiet(homes: Homes, case: Fails) -> None:
    args = _args(homes, case.args, {})
    as_json = homes.cli(case.where, [*args, "--json"], case.stdin)
    assert as_json.code == case.code, as_json.out + as_json.err
    body = json.loads(as_json.out)
    expected = {"error", "message"} | ({"ok", "checks"} if case.args == ("doctor",) else set())
    assert set(body) == expected
    assert body["error"] == case.error and body["message"]
    quiet = homes.cli(case.where, [*args, "-q"], case.stdin)
    assert quiet.code == case.code
    assert quiet.out == ""
    lines = quiet.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), quiet.err


def _leaves(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path
        return
    for name, sub in subcommands.items():
        if not sub.hidden:
            yield from _leaves(sub, (*path, name))


def _covered(leaf: tuple[str, ...], cases: list[Ok] | list[Fails]) -> bool:
    return any(case.args[: len(leaf)] == leaf for case in cases)


def test_the_tables_cover_every_leaf_command() -> None:
    cli.load_all()  # type: ignore[attr-defined]
    leaves = {leaf for name in COMMAND_INDEX for leaf in _leaves(cli.commands[name], (name,))}
    # serve has its own test below; refresh succeeds only for an OAuth connection, with
    # the real authorization server (tests/integration/oauth/test_cli_refresh_json_quiet.py).
    assert {leaf for leaf in leaves if not _covered(leaf, SUCCESSES)} == {
        ("daemon", "serve"),
        ("refresh",),
    }
    assert {leaf for leaf in leaves if not _covered(leaf, FAILURES)} == set()


def _serve(home: Path, flag: str) -> tuple[str, str]:
    process = subprocess.Popen(
        [AUTHSOME, "daemon", "serve", "--port", "0", "--proxy-port", "0", flag],
        env=base_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    record = home / "server" / "daemon.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if record.exists() and json.loads(record.read_text() or "{}").get("pid") == process.pid:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # the "serving" record is logged right after the record is written
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return out, err


def test_daemon_serve_json_logs_json_lines_and_quiet_logs_no_info(tmp_path: Path) -> None:
    out, err = _serve(tmp_path / "json", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert {"ts", "level", "logger", "message"} <= set(records[0])
    messages = [r["message"] for r in records]
    assert any("serving API on port" in m for m in messages), messages
    assert messages[-1] == "authsome daemon stopped"
    assert err == ""
    out, err = _serve(tmp_path / "quiet", "-q")
    assert (out, err) == ("", "")
