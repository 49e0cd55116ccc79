"""The daemon over HTTP: health, readiness, Host check, PoP rules, identities."""

from __future__ import annotations

import json
import time

import httpx

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.conftest import EMAIL, PASSWORD
from tests.support import store
from tests.support.daemon import Daemon
from tests.support.pop import home_key, signed


def test_health_names_the_deployment_and_needs_no_auth(daemon: Daemon) -> None:
    answer = httpx.get(daemon.url + "/health").json()
    assert answer["service"] == "authsome"
    assert answer["deployment_id"] == daemon.record["deployment_id"]


def test_ready_reports_each_check(daemon: Daemon) -> None:
    response = httpx.get(daemon.url + "/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert set(checks) == {"config", "store", "vault_key", "providers", "audit", "proxy_ca"}
    assert all(value.startswith("ok") for value in checks.values())


def test_foreign_host_header_is_refused(daemon: Daemon) -> None:
    response = httpx.get(daemon.url + "/health", headers={"Host": "evil.test:7998"})
    assert response.status_code == 421
    assert response.json()["error"] == "host_not_allowed"
    assert httpx.get(daemon.url + "/health", headers={"Host": "localhost"}).status_code == 200


def test_protected_route_without_proof_is_pop_missing(daemon: Daemon) -> None:
    response = httpx.get(daemon.url + "/whoami")
    assert response.status_code == 401
    assert response.json()["error"] == "pop_missing"


def test_whoami_after_headless_claim(claimed: Daemon) -> None:
    key = home_key(claimed.home)
    answer = signed(key, "GET", claimed.url + "/whoami")
    assert answer.status_code == 200, answer.text
    me = answer.json()
    assert me["role"] == "admin" and me["email"] == EMAIL and me["vault_id"]
    assert me["handle"].count("-") == 2


def test_headless_claim_is_accepted_bound_and_its_token_spent(claimed: Daemon) -> None:
    """DESIGN §1 Claim: `init --email` decides the claim it made, and the link's token
    can never match again."""
    handle = claimed.cli("whoami", "--json").json["handle"]
    principal_id = store.scalar(claimed.home, "SELECT id FROM principals WHERE email = ?", EMAIL)
    claims = store.rows(
        claimed.home,
        "SELECT c.state, c.principal_id, c.token_hash, c.decided_at, i.principal_id "
        "FROM claims c JOIN identities i ON i.id = c.identity_id WHERE i.handle = ?",
        handle,
    )
    assert len(claims) == 1
    state, bound_to, token_hash, decided_at, identity_principal = claims[0]
    assert state == "accepted"
    assert bound_to == identity_principal == principal_id
    assert token_hash is None  # no live token: the claim URL is dead
    assert decided_at is not None


def _error(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert "Traceback" not in response.text
    return str(response.json()["error"])


def test_replayed_proof_is_refused(claimed: Daemon) -> None:
    key = home_key(claimed.home)
    url = claimed.url + "/whoami"
    proof = sign_proof(key, method="GET", url=url)
    assert signed(key, "GET", url, proof=proof).status_code == 200
    assert _error(signed(key, "GET", url, proof=proof)) == "pop_replayed"


def test_stale_and_future_iat_are_refused(claimed: Daemon) -> None:
    key = home_key(claimed.home)
    url = claimed.url + "/whoami"
    assert _error(signed(key, "GET", url, now=time.time() - 120)) == "pop_expired"
    assert _error(signed(key, "GET", url, now=time.time() + 120)) == "pop_expired"


def test_wrong_htm_htu_and_body_hash_are_refused(claimed: Daemon) -> None:
    key = home_key(claimed.home)
    url = claimed.url + "/whoami"
    assert (
        _error(signed(key, "GET", url, proof=sign_proof(key, method="POST", url=url)))
        == "pop_invalid"
    )
    other = sign_proof(key, method="GET", url=claimed.url + "/connections")
    assert _error(signed(key, "GET", url, proof=other)) == "pop_invalid"
    body = json.dumps({"provider": "openai", "api_key": "sk-x", "connection": "default"}).encode()
    wrong_body = sign_proof(key, method="POST", url=claimed.url + "/connections", body=b"{}")
    answer = signed(key, "POST", claimed.url + "/connections", body=body, proof=wrong_body)
    assert _error(answer) == "pop_invalid"


def test_malformed_proofs_are_pop_invalid(claimed: Daemon) -> None:
    key = home_key(claimed.home)
    url = claimed.url + "/whoami"
    for garbage in ("x", "a.b.c", "e30.e30.", "." * 5000):
        assert _error(signed(key, "GET", url, proof=garbage)) == "pop_invalid"


def test_unknown_identity_is_refused(claimed: Daemon) -> None:
    stranger = IdentityKey.generate()
    assert _error(signed(stranger, "GET", claimed.url + "/whoami")) == "identity_unknown"


def test_pending_identity_may_only_read_its_status(claimed: Daemon) -> None:
    newcomer = IdentityKey.generate()
    registered = signed(newcomer, "POST", claimed.url + "/identities", body=b"{}")
    assert registered.status_code == 201
    assert registered.json()["status"] == "pending"
    assert "/claim/" in registered.json()["claim_url"]
    assert signed(newcomer, "GET", claimed.url + "/identities/self").json()["status"] == "pending"
    assert _error(signed(newcomer, "GET", claimed.url + "/whoami")) == "identity_pending"
    assert _error(signed(newcomer, "GET", claimed.url + "/connections")) == "identity_pending"


def test_revoked_identity_is_refused(claimed: Daemon) -> None:
    key = home_key(claimed.home)
    handle = signed(key, "GET", claimed.url + "/whoami").json()["handle"]
    revoked = signed(key, "POST", f"{claimed.url}/identities/{handle}/revoke", body=b"{}")
    assert revoked.status_code == 200, revoked.text
    assert _error(signed(key, "GET", claimed.url + "/whoami")) == "identity_revoked"


def test_second_identity_signs_in_to_existing_principal(claimed: Daemon, tmp_path) -> None:
    other_home = tmp_path / "second-agent"
    env = {"AUTHSOME_HOME": str(other_home), "AUTHSOME_BASE_URL": claimed.url}
    wrong = claimed.cli(
        "init", "--email", EMAIL, "--password-stdin", input="wrong password!!\n", env=env
    )
    assert wrong.code == 2
    assert "incorrect" in wrong.err
    right = claimed.cli(
        "init", "--email", EMAIL, "--password-stdin", "--json", input=PASSWORD + "\n", env=env
    )
    assert right.code == 0, right.err
    first = home_key(claimed.home)
    assert (
        right.json["vault_id"] == signed(first, "GET", claimed.url + "/whoami").json()["vault_id"]
    )


def test_oversized_body_is_refused_before_reading(claimed: Daemon) -> None:
    key = home_key(claimed.home)
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    answer = signed(key, "POST", claimed.url + "/connections", body=body)
    assert answer.status_code == 413
