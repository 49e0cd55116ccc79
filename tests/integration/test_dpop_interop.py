"""Proofs made by an independent RFC 9449 library (npm `dpop`) work end to end."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import EMAIL, PASSWORD
from tests.support.daemon import Daemon

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "node" / "dpop_requests.mjs"

MISSING = "needs node and `npm ci` (the README's test command installs both)"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


@pytest.fixture(autouse=True)
def _node_and_dpop() -> None:
    """Skip without node or the npm package, except in CI, where that is a failure."""
    if shutil.which("node") is not None and (ROOT / "node_modules" / "dpop").is_dir():
        return
    if _in_ci():
        pytest.fail(f"CI is set but this test {MISSING}")
    pytest.skip(MISSING)


def test_dpop_library_key_registers_claims_and_calls_whoami(claimed: Daemon) -> None:
    url = claimed.url
    claim_body = json.dumps({"email": EMAIL, "password": PASSWORD})
    plan = [
        ["POST", f"{url}/identities", "{}"],
        ["POST", f"{url}/identities/self/claim", claim_body],
        ["GET", f"{url}/whoami", ""],
    ]
    made = subprocess.run(
        ["node", str(SCRIPT), json.dumps(plan)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    proofs = json.loads(made.stdout)["proofs"]
    header = json.loads(base64.urlsafe_b64decode(proofs[0].split(".")[0] + "=="))
    assert header["alg"] in {"Ed25519", "EdDSA"}

    def send(index: int) -> httpx.Response:
        method, target, body = plan[index]
        headers = {"DPoP": proofs[index], "content-type": "application/json"}
        return httpx.request(method, target, content=body or None, headers=headers)

    registered = send(0)
    assert registered.status_code == 201, registered.text
    assert registered.json()["status"] == "pending"
    claimed_answer = send(1)
    assert claimed_answer.status_code == 200, claimed_answer.text
    me = send(2)
    assert me.status_code == 200, me.text
    assert me.json()["handle"] == registered.json()["handle"]
    assert me.json()["email"] == EMAIL
