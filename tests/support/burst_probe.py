"""``authsome run -- python burst_probe.py URL N``: N requests at once through the proxy.

Prints a JSON list with each answer's status and the Authorization header the
upstream echo saw. Each request uses its own connection, so the proxy
resolves the credential for all of them at the same moment.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx


async def one(url: str) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.get(url)
    if response.headers.get("content-type", "").startswith("application/json"):
        headers = dict((name.lower(), value) for name, value in response.json()["headers"])
        return {"status": response.status_code, "authorization": headers.get("authorization")}
    return {"status": response.status_code, "authorization": None, "text": response.text}


async def main(url: str, count: int) -> None:
    answers = await asyncio.gather(*(one(url) for _ in range(count)))
    sys.stdout.write(json.dumps(answers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
