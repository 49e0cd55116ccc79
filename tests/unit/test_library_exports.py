"""The library's public names exist, and `import authsome` stays cheap."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

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


def test_the_package_is_typed(tmp_path: Path) -> None:
    """py.typed ships, so a type checker sees the library's annotations (and errors)."""
    assert (resources.files("authsome") / "py.typed").is_file()
    user = tmp_path / "agent.py"
    user.write_text(
        "from authsome import AsyncClient, Client\n"
        "def use(client: Client, aclient: AsyncClient) -> None:\n"
        "    wrong: int = client.headers_for('https://api.github.com/user')\n"
        "    token: str = client.get_credential('github')\n"
        "    coro: int = aclient.get_credential('github')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", str(user)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    report = done.stdout
    assert done.returncode == 1, report
    assert (
        'agent.py:3: error: Incompatible types in assignment (expression has type "dict[str, str]"'
        in report
    )
    assert (
        'agent.py:5: error: Incompatible types in assignment (expression has type "Coroutine'
        in report
    )
    assert "agent.py:4" not in report  # get_credential is typed as str
    assert "import-untyped" not in report and "missing library stubs" not in report
