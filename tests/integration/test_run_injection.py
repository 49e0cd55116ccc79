"""`authsome run`: real clients as children, a real proxy, a local HTTPS upstream."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ACME_KEY, OPENAI_KEY, Gateway
from tests.support.daemon import CliResult

PROBE = str(Path(__file__).resolve().parents[1] / "support" / "agent_probe.py")


def _echo(output: str) -> dict:
    """The upstream's echo, with headers as a dict of lower-case names."""
    echo = json.loads(output)
    echo["headers"] = {name.lower(): value for name, value in echo["headers"]}
    return echo


def _run(gateway: Gateway, *args: str, timeout: float = 60) -> CliResult:
    result = gateway.daemon.cli("run", "--", *args, timeout=timeout)
    gateway.outputs.append(result.err)
    return result


def _probe(gateway: Gateway, client: str, url: str, tmp_path: Path) -> tuple[dict, dict]:
    env_out = tmp_path / f"env-{client}.json"
    result = _run(gateway, "python", PROBE, client, url, str(env_out))
    assert result.code == 0, result.err
    return _echo(result.out), json.loads(env_out.read_text())


@pytest.mark.parametrize("client", ["httpx", "httpx-async", "requests", "urllib"])
def test_python_clients_get_the_header_and_never_the_key(
    gateway: Gateway, client: str, tmp_path: Path
) -> None:
    echo, env = _probe(gateway, client, "https://api.openai.com/v1/models?limit=1", tmp_path)
    assert echo["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert echo["target"] == "/v1/models?limit=1"
    dumped = json.dumps(env)
    assert OPENAI_KEY not in dumped and ACME_KEY not in dumped
    assert env["OPENAI_API_KEY"] == "authsome-managed"
    assert env["ACME_API_KEY"] == "authsome-managed"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        assert env[name].startswith("http://run:") and env[name].endswith(
            f":{gateway.daemon.proxy_port}"
        )
    assert env["NO_PROXY"] == env["no_proxy"]
    assert set(env["NO_PROXY"].split(",")) <= {"localhost", "127.0.0.1", "::1"}
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"):
        assert Path(env[name]).is_file()
    assert Path(env["NODE_EXTRA_CA_CERTS"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert env["NODE_USE_ENV_PROXY"] == "1"


def test_curl_gets_the_header_and_placeholders_are_replaced(gateway: Gateway) -> None:
    result = _run(
        gateway,
        "curl",
        "-sS",
        "--fail",
        "-H",
        "Authorization: Bearer authsome-managed",
        "https://api.openai.com/v1/chat/completions",
        "-d",
        "{}",
    )
    assert result.code == 0, result.err
    echo = _echo(result.out)
    assert echo["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert echo["method"] == "POST"


def test_custom_provider_wildcard_injects_only_on_whole_labels(gateway: Gateway) -> None:
    ca = str(gateway.ca_file)
    ok = _run(gateway, "curl", "-sS", "--fail", "https://eu.api.acme.test/x")
    assert ok.code == 0, ok.err
    assert _echo(ok.out)["headers"]["x-acme-key"] == ACME_KEY
    for look_alike in ("evilacme.test", "api.acme.test.evil.test"):
        # Not matched, so tunnelled: the child talks TLS to the upstream itself
        # and must trust the upstream's own CA, not Authsome's.
        result = _run(gateway, "curl", "-sS", "--fail", "--cacert", ca, f"https://{look_alike}/x")
        assert result.code == 0, result.err
        headers = _echo(result.out)["headers"]
        assert "x-acme-key" not in headers and "authorization" not in headers


def test_unmatched_host_is_tunnelled_without_interception(gateway: Gateway) -> None:
    # Trusting only the upstream's CA proves the certificate was not Authsome's.
    result = _run(
        gateway,
        "curl",
        "-sS",
        "--fail",
        "--cacert",
        str(gateway.ca_file),
        "https://unmatched.test/",
    )
    assert result.code == 0, result.err
    assert "authorization" not in _echo(result.out)["headers"]


def test_plain_http_to_a_matched_host_is_refused(gateway: Gateway) -> None:
    result = _run(
        gateway,
        "curl",
        "-sS",
        "-o",
        "/dev/stderr",
        "-w",
        "%{http_code}",
        "http://api.openai.com/v1/models",
    )
    assert result.out == "403"
    assert "HTTPS" in result.err or "https" in result.err


def test_exit_code_and_signals_pass_through(gateway: Gateway) -> None:
    assert _run(gateway, "python", "-c", "import sys; sys.exit(7)").code == 7
    assert _run(gateway, "definitely-not-a-command").code == 127
    killed = _run(
        gateway, "python", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    )
    assert killed.code == 128 + 15


def test_sigterm_to_run_reaches_the_child(gateway: Gateway, tmp_path: Path) -> None:
    marker = tmp_path / "got-signal"
    script = (
        "import signal, sys, time, pathlib\n"
        f"def bye(*_): pathlib.Path({str(marker)!r}).write_text('term'); sys.exit(3)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    process = subprocess.Popen(
        ["authsome", "run", "--", "python", "-c", script],
        env=gateway.daemon.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    process.terminate()
    assert process.wait(timeout=20) == 3
    assert marker.read_text() == "term"


def test_run_token_stops_working_when_the_run_ends(gateway: Gateway, tmp_path: Path) -> None:
    env_out = tmp_path / "env.json"
    result = _run(
        gateway, "python", PROBE, "httpx", "https://api.openai.com/v1/models", str(env_out)
    )
    assert result.code == 0, result.err
    proxy = json.loads(env_out.read_text())["HTTPS_PROXY"]
    late = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--proxy",
            proxy,
            "--cacert",
            json.loads(env_out.read_text())["SSL_CERT_FILE"],
            "https://api.openai.com/v1/models",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert late.stdout == "407" or late.returncode != 0


def test_provider_limit_denies_other_providers(gateway: Gateway) -> None:
    result = gateway.daemon.cli(
        "run",
        "--provider",
        "acme",
        "--",
        "curl",
        "-sS",
        "-w",
        "\n%{http_code}",
        "https://api.openai.com/v1/models",
    )
    body, _, status = result.out.rpartition("\n")
    assert status == "403"
    assert "may not use openai" in body and "--provider" in body
    allowed = gateway.daemon.cli(
        "run", "--provider", "acme", "--", "curl", "-sS", "--fail", "https://api.acme.test/"
    )
    assert allowed.code == 0, allowed.err


def _two_hosts(gateway: Gateway, *limits: str) -> list[tuple[str, str]]:
    """One run whose child (a single curl) asks openai, then acme: (status, body) each."""
    urls = ("https://api.openai.com/v1/models", "https://api.acme.test/x")
    result = gateway.daemon.cli(
        "run", *limits, "--", "curl", "-sS", "-w", "~~%{http_code}~~", *urls
    )
    gateway.outputs.append(result.err)
    assert result.code == 0, result.err
    answers = re.findall(r"(.*?)~~(\d{3})~~", result.out, flags=re.DOTALL)
    assert len(answers) == 2, result.out
    return [(status, body.strip()) for body, status in answers]


def test_provider_is_repeatable(gateway: Gateway) -> None:
    (openai_status, openai_body), (acme_status, acme_body) = _two_hosts(
        gateway, "--provider", "openai", "--provider", "acme"
    )
    assert openai_status == "200", openai_body
    assert _echo(openai_body)["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert acme_status == "200", acme_body
    assert _echo(acme_body)["headers"]["x-acme-key"] == ACME_KEY
    (openai_status, openai_body), (acme_status, acme_body) = _two_hosts(
        gateway, "--provider", "openai"
    )
    assert openai_status == "200", openai_body
    assert _echo(openai_body)["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert acme_status == "403"
    assert "may not use acme" in acme_body and "--provider" in acme_body
    assert ACME_KEY not in acme_body


def test_no_connection_is_denied_with_the_login_command(gateway: Gateway) -> None:
    assert gateway.daemon.cli("logout", "openai").code == 0
    result = _run(
        gateway, "curl", "-sS", "-w", "\n%{http_code}", "https://api.openai.com/v1/models"
    )
    body, _, status = result.out.rpartition("\n")
    assert status == "403"
    assert "authsome login openai" in body
