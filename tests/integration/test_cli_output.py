"""How the CLI speaks: exit codes and one-line errors per class, JSON errors, --quiet,
colour only on a terminal (NO_COLOR, --no-color), the spinner, Ctrl-C, completion."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from authsome.cli.main import COMMAND_INDEX
from tests.support import store
from tests.support.cli import (
    PASSWORD,
    api_key_provider,
    complete,
    register_provider,
    start_claimed,
)
from tests.support.daemon import AUTHSOME, CliResult, Daemon, base_env, run_cli
from tests.support.tty import run_on_tty

OPENAI_KEY = "sk-proj-OUTPUTtests0123456789abcdef"
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3\d|9\d|38)[;m]")  # a foreground colour


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_claimed(tmp_path_factory.mktemp("output") / "home")
    try:
        assert daemon.cli("login", "openai", "--key-stdin", input=OPENAI_KEY + "\n").code == 0
        register_provider(daemon, api_key_provider("plainco", "api.plainco.test"))
        yield daemon
    finally:
        daemon.stop()


ERROR_CASES = [
    # (args, stdin, exit code, error code)
    (("whoami", "--bogus"), None, 2, "usage_error"),
    (("connections", "inspect"), None, 2, "usage_error"),
    (("export", "--connection", "x"), None, 2, "usage_error"),
    (
        ("connections", "inspect", "openai", "--reveal", "--password-stdin"),
        "wrong password!!\n",
        2,
        "authentication_failed",
    ),
    (("connections", "inspect", "openai", "nope"), None, 3, "connection_not_found"),
    (("connections", "set-default", "openai", "nope"), None, 3, "connection_not_found"),
    (("connections", "inspect", "no-such-provider"), None, 4, "provider_not_found"),
    (("export", "openai"), None, 4, "forbidden"),
    (("connections", "inspect", "openai", "--reveal"), None, 4, "forbidden"),
    (("login", "openai", "--key-stdin"), OPENAI_KEY + "\n", 6, "connection_exists"),
]


@pytest.mark.parametrize("args,stdin,code,error", ERROR_CASES, ids=lambda v: str(v))
def test_each_error_class_has_its_exit_code_and_one_line(
    shared: Daemon, args: tuple[str, ...], stdin: str | None, code: int, error: str
) -> None:
    human = shared.cli(*args, input=stdin)
    assert human.code == code, human.err
    lines = human.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), human.err
    assert "(try: " in lines[0]  # the command that fixes it
    assert human.out == ""
    as_json = shared.cli(*args, "--json", input=stdin)
    assert as_json.code == code
    body = json.loads(as_json.out)
    assert set(body) == {"error", "message"} and body["error"] == error
    assert OPENAI_KEY not in human.err + as_json.out


def test_provider_exists_exit_code(shared: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "plainco.json"
    path.write_text(json.dumps(api_key_provider("plainco", "api.plainco.test")))
    result = shared.cli("provider", "register", str(path), "--json")
    assert result.code == 7 and result.json["error"] == "provider_exists"


def _assert_error(result: CliResult, as_json: CliResult, code: int, error: str) -> None:
    assert result.code == code, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "(try: " in lines[0]
    assert as_json.code == code and set(as_json.json) == {"error", "message"}
    assert as_json.json["error"] == error


def test_endpoint_unreachable_exit_code(shared: Daemon) -> None:
    # An OAuth provider whose endpoints are on a port where nothing listens.
    dead = "http://127.0.0.1:9"
    register_provider(
        shared,
        {
            "schema_version": 1,
            "name": "deadco",
            "display_name": "Dead",
            "auth_type": "oauth2",
            "flow": "device_code",
            "api_url": ["api.deadco.test"],
            "oauth": {
                "authorization_url": f"{dead}/authorize",
                "token_url": f"{dead}/token",
                "device_authorization_url": f"{dead}/device",
                "scopes": ["read"],
            },
        },
    )
    args = ("login", "deadco", "--client-stdin")
    _assert_error(
        shared.cli(*args, input="client-id\n\n"),
        shared.cli(*args, "--json", input="client-id\n\n"),
        8,
        "endpoint_unreachable",
    )


def test_credential_unavailable_exit_code(tmp_path: Path) -> None:
    # Fail closed: while the audit table refuses writes (a real trigger in the store), a
    # credential change cannot happen and says so with exit 5.
    daemon = start_claimed(tmp_path / "home")
    try:
        assert daemon.cli("login", "openai", "--key-stdin", input=OPENAI_KEY + "\n").code == 0
        store.refuse_audit_writes(daemon.home)
        _assert_error(
            daemon.cli("logout", "openai"),
            daemon.cli("logout", "openai", "--json"),
            5,
            "audit_unavailable",
        )
        assert [c["name"] for c in daemon.cli("connections", "list", "--json").json] == ["default"]
    finally:
        daemon.stop()


def test_daemon_unavailable_exit_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli(["daemon", "logs", "--json"], base_env(home)).json["error"] == (
        "daemon_unavailable"
    )
    # A port that accepts but never answers: the client gives up, cannot start its own
    # daemon there, and says so with exit 9.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        start = start_claimed(home)
        start.stop()
        result = run_cli(["whoami"], base_env(home, AUTHSOME_BASE_URL=url))
    assert result.code == 9, result.err
    assert result.err.startswith("error: ") and "(try: " in result.err


def test_quiet_prints_nothing_but_asked_for_data(shared: Daemon) -> None:
    for args in (
        ("whoami",),
        ("connections", "list"),
        ("connections", "set-default", "openai", "default"),
    ):
        result = shared.cli(*args, "--quiet")
        assert result.code == 0 and result.out == "" and result.err == "", args
    exported = shared.cli("export", "openai", "-q", "--password-stdin", input=PASSWORD + "\n")
    assert exported.code == 0 and exported.out == f"export OPENAI_API_KEY={OPENAI_KEY}\n"
    failing = shared.cli("connections", "inspect", "openai", "nope", "-q")
    assert failing.code == 3 and failing.err.startswith("error: ")


def test_colour_only_on_a_terminal(shared: Daemon) -> None:
    env = {k: v for k, v in shared.env.items() if k != "NO_COLOR"}
    on_tty = run_on_tty(["doctor"], env)
    assert on_tty.code == 0, on_tty.tty
    assert COLOUR.search(on_tty.tty), on_tty.tty
    for variant in (
        run_on_tty(["doctor"], env | {"NO_COLOR": "1"}),
        run_on_tty(["doctor", "--no-color"], env),
        run_on_tty(["--no-color", "doctor"], env),
    ):
        assert variant.code == 0 and "✔" in variant.tty
        assert not COLOUR.search(variant.tty), variant.tty
    piped = shared.cli("doctor", env=env)
    assert piped.code == 0 and "\x1b[" not in piped.out + piped.err


def test_spinner_while_the_daemon_starts(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home")
    shown = run_on_tty(["daemon", "start", "--port", "0"], env)
    try:
        assert shown.code == 0, shown.tty
        assert "waiting for the daemon to start" in shown.tty
        assert "Ctrl-C to cancel" in shown.tty
        assert "daemon started" in shown.tty
    finally:
        run_cli(["daemon", "stop"], env)
    quiet = run_cli(["daemon", "start", "--port", "0", "--json"], env)
    try:
        assert quiet.code == 0 and "waiting" not in quiet.out + quiet.err
        assert json.loads(quiet.out)["status"] == "started"
    finally:
        run_cli(["daemon", "stop"], env)


def _daemons_of(home: Path) -> list[int]:
    """Pids of `daemon serve` processes started for ``home``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"serve" in cmdline and f"AUTHSOME_HOME={home}".encode() in environ.split(b"\0"):
            found.append(int(proc.name))
    return found


def test_ctrl_c_during_daemon_start_stops_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    main, child = pty.openpty()
    process = subprocess.Popen(
        [AUTHSOME, "daemon", "start", "--port", "0"],
        env=base_env(home) | {"TERM": "xterm"},
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    seen = b""
    deadline = time.monotonic() + 20
    while b"waiting for the daemon" not in seen and time.monotonic() < deadline:
        seen += os.read(main, 4096)
    assert b"Ctrl-C to cancel" in seen
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 2
    os.close(main)
    deadline = time.monotonic() + 15
    while _daemons_of(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _daemons_of(home) == []


def test_ctrl_c_ends_daemon_logs_follow_cleanly(tmp_path: Path) -> None:
    # Ctrl-C is how `-f` is meant to stop: exit 0 and nothing on stderr (not "cancelled", 2).
    home = tmp_path / "home"
    (home / "server").mkdir(parents=True)
    (home / "server" / "daemon.log").write_text("one line\n")
    process = subprocess.Popen(
        [AUTHSOME, "daemon", "logs", "-f"],
        env=base_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "one line\n"
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert err == ""


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli(["--help"], base_env(tmp_path / "home"))
    assert result.code == 0
    listed = re.findall(r"^  (\S+)  ", result.out, flags=re.MULTILINE)
    assert set(COMMAND_INDEX) <= set(listed)
    assert "Exit codes:" in result.out and "usage error" in result.out


def test_completion_scripts_and_names_from_the_daemon(shared: Daemon) -> None:
    for shell, marker in (
        ("bash", "complete -o"),
        ("zsh", "compdef"),
        ("fish", "--command authsome"),
    ):
        script = shared.cli("completion", shell)
        assert script.code == 0 and "_AUTHSOME_COMPLETE" in script.out and marker in script.out
    assert shared.cli("completion", "tcsh").code == 2
    as_json = shared.cli("completion", "bash", "--json").json
    assert as_json["shell"] == "bash" and "_AUTHSOME_COMPLETE" in as_json["script"]
    assert "openai" in complete(shared, "authsome login open")
    assert "plainco" in complete(shared, "authsome export pl")
    assert complete(shared, "authsome connections inspect openai ") == ["default"]
    assert "doctor" in complete(shared, "authsome do")
    assert "--json" in complete(shared, "authsome whoami --")
    stopped = shared.env | {"AUTHSOME_BASE_URL": "http://127.0.0.1:9"}
    env = stopped | {
        "_AUTHSOME_COMPLETE": "bash_complete",
        "COMP_WORDS": "authsome login ",
        "COMP_CWORD": "2",
    }
    started = time.monotonic()
    done = subprocess.run([AUTHSOME], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == ""  # no daemon: no suggestions, no error
    assert time.monotonic() - started < 10
