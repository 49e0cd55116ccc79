"""Registration carries a proof signed by the key it registers; /whoami names the principal."""

from __future__ import annotations

import httpx

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.conftest import EMAIL
from tests.support import store
from tests.support.daemon import Daemon
from tests.support.pop import home_key, signed


def _identity_count(daemon: Daemon) -> int:
    return int(store.scalar(daemon.home, "SELECT count(*) FROM identities"))


def test_registration_without_a_proof_is_pop_missing_and_registers_nothing(
    daemon: Daemon,
) -> None:
    response = httpx.post(daemon.url + "/identities", json={}, timeout=10)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "pop_missing"
    assert _identity_count(daemon) == 0


def test_registration_with_a_proof_for_another_request_is_refused(daemon: Daemon) -> None:
    key = IdentityKey.generate()
    for_whoami = sign_proof(key, method="GET", url=daemon.url + "/whoami")
    response = signed(key, "POST", daemon.url + "/identities", body=b"{}", proof=for_whoami)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "pop_invalid"
    assert _identity_count(daemon) == 0
    # The same key with a proof of this very request registers (pending).
    accepted = signed(key, "POST", daemon.url + "/identities", body=b"{}")
    assert accepted.status_code == 201, accepted.text
    assert _identity_count(daemon) == 1


def test_whoami_names_the_callers_principal(claimed: Daemon) -> None:
    me = signed(home_key(claimed.home), "GET", claimed.url + "/whoami").json()
    (principal_id,) = store.rows(claimed.home, "SELECT id FROM principals WHERE email = ?", EMAIL)
    assert me["principal_id"] == principal_id[0]
    assert me["status"] == "active"
