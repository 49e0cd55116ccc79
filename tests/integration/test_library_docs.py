"""Every ```python block of docs/library.md runs against a real daemon and a local
HTTPS stand-in for the provider (names routed to it, its CA trusted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import OPENAI_KEY, UPSTREAM_NAMES, Gateway
from tests.support.daemon import base_env
from tests.support.name_resolution import ENV, encode

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "library.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 6


def test_examples_run(gateway: Gateway, tmp_path: Path) -> None:
    mapping = {name: ("127.0.0.1", gateway.upstream.port) for name in UPSTREAM_NAMES}
    env = base_env(
        gateway.daemon.home,
        PYTHONPATH=f"{ROOT / 'tests' / 'support' / 'docs_shim'}:{ROOT}",
        SSL_CERT_FILE=str(gateway.ca_file),
        REQUESTS_CA_BUNDLE=str(gateway.ca_file),
        **{ENV: encode(mapping)},
    )
    outputs = []
    for number, block in enumerate(BLOCKS, start=1):
        script = tmp_path / f"example_{number}.py"
        script.write_text(block)
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"example {number} failed:\n{block}\n{done.stderr}"
        outputs.append(done.stdout)
        assert OPENAI_KEY not in done.stdout + done.stderr
    assert outputs[0] == "['Authorization']\n"
    assert outputs[1] == outputs[2] == "200\n"
    assert outputs[3] == "200\n200\n"
    assert outputs[4] == "['Authorization']\n"
    assert outputs[5].startswith("not allowed: ")
    assert outputs[6] in ("connection_not_found\n", "credential_unavailable\n")
