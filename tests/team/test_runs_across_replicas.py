"""`authsome run --local-proxy` against two replicas behind a round-robin balancer.

Every call the CLI makes for its run (start, the run's providers, each
credential, the events upload, the end) may reach either replica, so the
run must be found in the database, never in one replica's memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from authsome.errors import ConnectionNotFound
from authsome.testing.upstream import HttpsEchoServer, TestCA
from tests.integration.conftest import OPENAI_KEY, UPSTREAM_NAMES
from tests.support.cli import eventually
from tests.team.test_replicas import Team, _start_team

#: Requests in one run: enough that the balancer alternates many times.
REQUESTS = 6
FETCH_ALL = (
    f'for i in $(seq {REQUESTS}); do curl -sS -o /dev/null -w "%{{http_code}}\\n" '
    "https://api.openai.com/v1/models; done"
)


@pytest.fixture
def team_with_upstream(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Team, dict[str, str]]]:
    ca = TestCA()
    ca_file = ca.write_pem(tmp_path / "upstream-ca.pem")
    with HttpsEchoServer(ca, UPSTREAM_NAMES) as upstream:
        team = _start_team(tmp_path, postgres_url)
        try:
            login = team.cli("login", "openai", "--key-stdin", input=OPENAI_KEY + "\n")
            assert login.code == 0, login.err
            resolve = ",".join(f"{name}=127.0.0.1:{upstream.port}" for name in UPSTREAM_NAMES)
            yield team, {"AUTHSOME_PROXY_RESOLVE": resolve, "AUTHSOME_UPSTREAM_CA": str(ca_file)}
        finally:
            team.stop()


def test_a_local_proxy_run_is_served_by_whichever_replica_answers(
    team_with_upstream: tuple[Team, dict[str, str]],
) -> None:
    team, local = team_with_upstream
    # Fresh connections each time: the balancer alternates between A and B.
    result = team.a.cli(
        "run", "--local-proxy", "--", "sh", "-c", FETCH_ALL,
        env=local | {"AUTHSOME_BASE_URL": team.public}, timeout=120,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.split() == ["200"] * REQUESTS, result.out + result.err
    rows = team.sql("SELECT id, ended_at FROM run_sessions")
    assert len(rows) == 1 and rows[0][1] is not None  # ended, by whichever replica got it
    run_id = rows[0][0]
    events = team.sql(
        "SELECT event, detail FROM audit_events WHERE event IN ('run_started', 'run_ended') ORDER BY id"
    )
    assert [event for event, _ in events] == ["run_started", "run_ended"]
    assert all(detail["run"] == run_id for _, detail in events)  # psycopg parses json

    def proxied() -> None:  # uploaded by the CLI, written by the replica's batcher
        count = team.sql(
            "SELECT count(*) FROM audit_events "
            "WHERE event = 'proxy_request' AND outcome = 'success'"
        )
        assert count[0][0] == REQUESTS

    eventually(proxied)


def test_a_run_ended_on_one_replica_is_over_on_the_other(
    team_with_upstream: tuple[Team, dict[str, str]],
) -> None:
    team, _local = team_with_upstream
    team.pin(team.a)
    with team.client() as api:
        run_id = api.start_run()["run_id"]
        assert api.request("GET", f"/runs/{run_id}/providers")["providers"]  # A holds it now
    team.pin(team.b)  # B has never seen this run: it reads it from the database
    with team.client() as api:
        assert api.request("GET", f"/runs/{run_id}/providers")["providers"]
        api.end_run(run_id)
    team.pin(team.a)  # A still has it in memory: the change feed must end it there
    deadline = time.monotonic() + 10
    with team.client() as api:
        while True:
            try:
                api.request("GET", f"/runs/{run_id}/providers")
            except ConnectionNotFound:
                break  # the run is over on A too
            assert time.monotonic() < deadline, "replica A kept serving a run that B ended"
            time.sleep(0.1)
