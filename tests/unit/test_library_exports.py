"""The library's public names exist, and `import authsome` stays cheap."""

from __future__ import annotations

import subprocess
import sys

import authsome
import authsome.httpx
import authsome.requests


def test_public_names() -> None:
    for module in (authsome, authsome.httpx, authsome.requests):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)
    assert authsome.Client.__module__ == "authsome.client.library"
    assert issubclass(authsome.httpx.Auth, __import__("httpx").Auth)
    assert issubclass(authsome.requests.Auth, __import__("requests").auth.AuthBase)


def test_import_authsome_loads_no_client() -> None:
    code = "import sys, authsome; print(sorted(m for m in ('httpx', 'rich', 'pydantic', 'authsome.client') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
