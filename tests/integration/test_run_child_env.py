"""`authsome run`: the child's own environment, dumped from inside it, holds no key.

Each client calls the custom provider's ``.test`` host (``*.acme.test``, a
local HTTPS stand-in) through the daemon's proxy; the upstream sees the key,
the child's environment holds only placeholders. Also: SIGINT reaches the
child, and the CA bundle it is given is the system roots plus Authsome's CA.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ACME_KEY, OPENAI_KEY, Gateway
from tests.support.daemon import AUTHSOME

PROBE = str(Path(__file__).resolve().parents[1] / "support" / "agent_probe.py")
ACME_URL = "https://api.acme.test/v1/things?page=2"


def _pem_blocks(text: str) -> list[str]:
    """The base64 bodies of the PEM certificates in ``text``, whitespace removed.

    Compared as text: some system roots do not parse under ``cryptography``
    (a negative serial number), which says nothing about the bundle.
    """
    blocks = re.findall(
        r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, flags=re.DOTALL
    )
    return ["".join(block.split()) for block in blocks]


def _echo_headers(output: str) -> dict[str, str]:
    return {name.lower(): value for name, value in json.loads(output)["headers"]}


def _assert_holds_no_key(environment: str) -> None:
    assert ACME_KEY not in environment and OPENAI_KEY not in environment
    assert "ACME_API_KEY=authsome-managed" in environment
    assert "OPENAI_API_KEY=authsome-managed" in environment


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_python_clients_reach_the_test_host_and_their_env_holds_no_key(
    gateway: Gateway, client: str, tmp_path: Path
) -> None:
    env_out = tmp_path / f"env-{client}.json"
    result = gateway.daemon.cli("run", "--", "python", PROBE, client, ACME_URL, str(env_out))
    assert result.code == 0, result.err
    assert _echo_headers(result.out)["x-acme-key"] == ACME_KEY
    environment = json.loads(env_out.read_text())
    _assert_holds_no_key("\n".join(f"{name}={value}" for name, value in environment.items()))
    assert ACME_KEY not in result.err


def test_curl_reaches_the_test_host_and_its_env_holds_no_key(
    gateway: Gateway, tmp_path: Path
) -> None:
    env_out = tmp_path / "env-curl.txt"
    script = f'env > "{env_out}"; exec curl -sS --fail "{ACME_URL}"'
    result = gateway.daemon.cli("run", "--", "sh", "-c", script)
    assert result.code == 0, result.err
    assert _echo_headers(result.out)["x-acme-key"] == ACME_KEY
    environment = env_out.read_text()
    _assert_holds_no_key(environment)
    assert "CURL_CA_BUNDLE=" in environment and "HTTPS_PROXY=http://run:" in environment


def test_sigint_to_run_reaches_the_child(gateway: Gateway, tmp_path: Path) -> None:
    marker = tmp_path / "got-signal"
    script = (
        "import signal, sys, time, pathlib\n"
        f"def bye(*_): pathlib.Path({str(marker)!r}).write_text('int'); sys.exit(4)\n"
        "signal.signal(signal.SIGINT, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    process = subprocess.Popen(
        [AUTHSOME, "run", "--", "python", "-c", script],
        env=gateway.daemon.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGINT)  # to `authsome run` alone, not its process group
        assert process.wait(timeout=20) == 4
    finally:
        if process.poll() is None:
            process.kill()
    assert marker.read_text() == "int"


def test_the_ca_bundle_is_the_system_roots_plus_the_authsome_ca(
    gateway: Gateway, tmp_path: Path
) -> None:
    env_out = tmp_path / "env.json"
    script = f'env > "{env_out}"'
    assert gateway.daemon.cli("run", "--", "sh", "-c", script).code == 0
    variables = dict(line.split("=", 1) for line in env_out.read_text().splitlines() if "=" in line)
    bundles = {
        variables[name]
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO")
    }
    assert len(bundles) == 1
    in_bundle = _pem_blocks(Path(bundles.pop()).read_text())
    (ours,) = _pem_blocks((gateway.daemon.home / "server" / "ca" / "ca.pem").read_text())
    assert len(in_bundle) > 1
    assert ours in in_bundle
    assert in_bundle.count(ours) == 1, "the Authsome CA is added once"
    assert _pem_blocks(Path(variables["NODE_EXTRA_CA_CERTS"]).read_text()) == [ours]
