"""A stand-in agent run as `authsome run -- python agent_probe.py CLIENT URL ENV_OUT`.

It calls URL with the named HTTP client (which picks up the proxy and CA
bundle from the environment, as real agents do), prints the upstream's JSON
echo, and writes its own environment to ENV_OUT for the test to search.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.request


def fetch(client: str, url: str) -> str:
    if client == "httpx":
        import httpx

        return httpx.get(url, timeout=10).text
    if client == "httpx-async":
        import httpx

        async def get() -> str:
            async with httpx.AsyncClient(timeout=10) as session:
                return (await session.get(url)).text

        return asyncio.run(get())
    if client == "requests":
        import requests

        return requests.get(url, timeout=10).text
    if client == "urllib":
        import ssl

        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        handler = urllib.request.HTTPSHandler(context=context)
        with urllib.request.build_opener(handler).open(url, timeout=10) as response:
            return response.read().decode()
    raise SystemExit(f"unknown client {client}")


def main() -> None:
    client, url, env_out = sys.argv[1:4]
    with open(env_out, "w") as handle:
        json.dump(dict(os.environ), handle)
    sys.stdout.write(fetch(client, url))


if __name__ == "__main__":
    main()
