"""Schemathesis over the daemon's OpenAPI document, every request signed with a valid proof.

Each generated request goes through ``requests`` with ``PopRequestsAuth``,
which signs the exact method, URL and body bytes, so the fuzzing reaches
the handlers instead of stopping at the 401. Checks on every response: no
5xx, the status code is one the document lists for that operation, and the
body matches the documented schema for it.

The test also checks that it tested something: every operation but
``SKIPPED`` runs in both modes (running out of time fails), and no response
is a refused proof (``pop_*``/``identity_*`` 401s), so a broken signing hook
cannot pass unnoticed.

Bounded: AUTHSOME_FUZZ_EXAMPLES examples per operation and mode (default 8),
AUTHSOME_FUZZ_SECONDS in all (default 90; about 45 s are needed on 2 cores). The
pytest plugin of schemathesis is not used (it does not run on this pytest);
hypothesis drives its strategies.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from authsome.crypto.identity_keys import IdentityKey
from authsome.crypto.pop import sign_proof
from tests.adversarial.conftest import Target
from tests.support.pop import PROOF_REFUSAL_CODES

EXAMPLES = int(os.environ.get("AUTHSOME_FUZZ_EXAMPLES", "8"))
SECONDS = float(os.environ.get("AUTHSOME_FUZZ_SECONDS", "90"))
REVEALING = (
    "/resolve",
    "/connections/{provider}/{name}/reveal",
    "/export",
    "/runs/{run_id}/resolve",
)
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


class Tally:
    """Every response's status and error code, to show the proofs were accepted."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.refused_proofs: Counter[str] = Counter()

    def add(self, label: str, response: requests.Response) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code == 401:
            code = _error_code(response)
            if code in PROOF_REFUSAL_CODES:  # every request is validly signed
                self.refused_proofs[f"{label}: {code}"] += 1

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json().get("error"))
    except ValueError:
        return "(not JSON)"


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
@pytest.mark.timeout(SECONDS + 60)
def test_fuzzed_requests_never_fail_the_server_or_the_schema(
    api_schema: schemathesis.BaseSchema, target: Target, signed_session: requests.Session
) -> None:
    """Every operation, positive and negative data; failures collected, then reported."""
    failures: list[str] = []
    tally = Tally()
    budget = time.monotonic() + SECONDS
    operations = [result.ok() for result in api_schema.get_all_operations()]
    to_run = [op for op in operations if op.path not in SKIPPED]
    assert len(operations) - len(to_run) == len(SKIPPED), "a skipped operation no longer exists"
    ran: list[str] = []
    for operation in to_run:
        if time.monotonic() > budget:
            break
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation.as_strategy(generation_mode=mode), target, signed_session, tally)
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, or only path strings)
            except (Exception, FailureGroup) as exc:  # the minimal failing example
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:400]}")
        ran.append(operation.label)
    summary = (
        f"{len(ran)} of {len(to_run)} operations, {tally.total} requests {dict(tally.statuses)}"
    )
    assert len(ran) == len(to_run), f"the {SECONDS:.0f} s budget ran out: {summary}"
    assert failures == [], "\n".join(failures)
    assert tally.total >= len(to_run) * EXAMPLES, f"too few requests: {summary}"
    assert not tally.refused_proofs, f"valid proofs refused: {dict(tally.refused_proofs)}"
    assert tally.statuses[401] <= tally.total // 20, f"mostly unauthenticated: {summary}"


def _fuzz(
    strategy: SearchStrategy[schemathesis.Case],
    target: Target,
    session: requests.Session,
    tally: Tally,
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
        tally.add(case.operation.label, response)
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
        )
        if case.operation.path not in REVEALING:
            assert target.api_key.encode() not in response.content

    run()
