"""A stand-in "agent" for examples/demo: it calls an API without holding its key.

Run it under ``authsome run -- python examples/agent.py``. It uses only the
standard library, the way any HTTP client would: ``urllib`` reads
``HTTPS_PROXY`` and OpenSSL reads ``SSL_CERT_FILE`` from the environment that
``authsome run`` prepared. The agent never adds an ``Authorization`` header;
the Authsome proxy adds it on the way to the upstream.

What it prints:

1. what its own environment holds for the API key (the placeholder
   ``authsome-managed``) and the names of all its variables;
2. the ``Authorization`` header the upstream says it received, masked.

With ``--env-dump FILE`` it also writes its whole environment (names and
values, JSON, mode 0600) so a checker outside the run can search it for the
real key, which the agent itself cannot know. The dump holds this run's proxy
token, which stops working when the run ends.

Exit status: 0 when the upstream received a credential header, 1 when not,
2 when the request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_URL = "https://api.demo.test/v1/hello"
KEY_VARIABLE = "DEMO_API_KEY"
PLACEHOLDER = "authsome-managed"


def mask(value: str) -> str:
    """``Bearer demo…a1b2``: the scheme, the key's first 4 and last 4 characters."""
    scheme, _, token = value.rpartition(" ")
    shown = f"{token[:4]}…{token[-4:]}" if len(token) >= 16 else "…"
    return f"{scheme} {shown}" if scheme else shown


def received_header(echo: Any, name: str) -> str | None:
    """The value of header ``name`` in the upstream's echo of our request, if any."""
    headers = echo.get("headers") if isinstance(echo, dict) else None
    if isinstance(headers, dict):
        pairs = list(headers.items())
    elif isinstance(headers, list):
        pairs = [tuple(pair) for pair in headers if isinstance(pair, list | tuple)]
    else:
        return None
    for key, value in pairs:
        if str(key).lower() == name.lower():
            return str(value)
    return None


def show_environment() -> None:
    print(f"agent: {KEY_VARIABLE} in my environment = {os.environ.get(KEY_VARIABLE)!r}")
    names = textwrap.fill(
        ", ".join(sorted(os.environ)), 96, initial_indent="  ", subsequent_indent="  "
    )
    print(f"agent: my environment has {len(os.environ)} variables:\n{names}")


def dump_environment(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(dict(os.environ), handle, indent=2, sort_keys=True)
    print(f"agent: wrote my whole environment to {path} for the checker")


def call(url: str) -> Any:
    """GET ``url`` through whatever proxy and CA bundle the environment names."""
    if not url.startswith("https://"):
        raise ValueError(f"{url} is not an https:// URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    proxy = urllib.request.getproxies().get("https", "(none)")
    print(f"agent: GET {url} via proxy {proxy.rpartition('@')[2]}, no credential of my own")
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - https only, checked
        body = response.read()
        print(f"agent: upstream answered {response.status}")
    return json.loads(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"what to call (default {DEFAULT_URL})")
    parser.add_argument("--env-dump", type=Path, help="write the environment here as JSON")
    args = parser.parse_args()

    show_environment()
    if args.env_dump is not None:
        dump_environment(args.env_dump)
    try:
        echo = call(args.url)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"agent: request failed: {exc}", file=sys.stderr)
        return 2
    header = received_header(echo, "Authorization")
    if header is None:
        print("agent: FAIL: the upstream received no Authorization header")
        return 1
    if header.endswith(PLACEHOLDER):
        print("agent: FAIL: the upstream received the placeholder, not a key")
        return 1
    print(f"agent: the upstream received Authorization: {mask(header)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
