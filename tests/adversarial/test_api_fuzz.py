"""Schemathesis over the daemon's OpenAPI document, every request signed with a valid proof.

Each generated request goes through ``requests`` with ``PopRequestsAuth``,
which signs the exact method, URL and body bytes, so the fuzzing reaches
the handlers instead of stopping at the 401. Bounded: AUTHSOME_FUZZ_EXAMPLES
examples per operation and mode (default 25), AUTHSOME_FUZZ_SECONDS in all
(default 300; running out fails the test). Checks: no 5xx, and every
documented response matches its schema. The pytest plugin of schemathesis
is not used (it does not run on this pytest); hypothesis drives its strategies.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.adversarial.conftest import Target

EXAMPLES = int(os.environ.get("AUTHSOME_FUZZ_EXAMPLES", "25"))
SECONDS = float(os.environ.get("AUTHSOME_FUZZ_SECONDS", "300"))
REVEALING = ("/resolve", "/connections/{provider}/{name}/reveal", "/export")
# Operations that would end the fuzzing session itself (revoking the caller).
SKIPPED = ("/identities/{handle}/revoke",)


class PopRequestsAuth(requests.auth.AuthBase):
    """The ``requests`` twin of ``client.pop_auth.PopAuth``: one fresh proof per request."""

    def __init__(self, key: IdentityKey) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        raw = body.encode() if isinstance(body, str) else (body or b"")
        assert request.method is not None and request.url is not None
        request.headers["DPoP"] = sign_proof(
            self.key, method=request.method, url=request.url, body=raw or None
        )
        return request


@pytest.fixture(scope="module")
def api_schema(target: Target) -> schemathesis.BaseSchema:
    document = httpx.get(target.daemon.url + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=target.daemon.url)
    return schema


@pytest.fixture(scope="module")
def signed_session(target: Target) -> Iterator[requests.Session]:
    session = requests.Session()
    session.auth = PopRequestsAuth(target.key)
    session.trust_env = False
    yield session
    session.close()


@pytest.mark.slow
def test_fuzzed_requests_never_fail_the_server_or_the_schema(
    api_schema: schemathesis.BaseSchema, target: Target, signed_session: requests.Session
) -> None:
    """Every operation, positive and negative data; failures collected, then reported."""
    failures: list[str] = []
    budget = time.monotonic() + SECONDS
    operations = [result.ok() for result in api_schema.get_all_operations()]
    ran = 0
    for operation in operations:
        if operation.path in SKIPPED:
            continue
        if time.monotonic() > budget:
            break
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation.as_strategy(generation_mode=mode), target, signed_session)
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, or only path strings)
            except Exception as exc:  # hypothesis re-raises the minimal failing example
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:400]}")
        ran += 1
    print(f"fuzzed {ran} of {len(operations)} operations, {EXAMPLES} examples per mode")
    assert ran >= min(len(operations) - len(SKIPPED), 20), "the time budget ended the run early"
    assert failures == [], "\n".join(failures)


def _fuzz(
    strategy: SearchStrategy[schemathesis.Case], target: Target, session: requests.Session
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=target.daemon.url, session=session, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if case.operation.path not in REVEALING:
            assert target.api_key.encode() not in response.content

    run()
