"""docs/providers.md is generated from the catalogue and must be up to date (the CI check)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from authsome.providers.catalogue import bundled_providers

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "gen_provider_docs.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_provider_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_providers_md_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr + "\nrun: python scripts/gen_provider_docs.py"


def test_check_fails_on_a_stale_page_and_the_script_rewrites_it(tmp_path: Path) -> None:
    page = tmp_path / "providers.md"
    page.write_text((ROOT / "docs" / "providers.md").read_text().replace("`openai`", "`0penai`"))
    stale = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--output", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stale.returncode == 1 and "out of date" in stale.stderr
    subprocess.run([sys.executable, str(SCRIPT), "--output", str(page)], check=True, timeout=60)
    assert page.read_text() == (ROOT / "docs" / "providers.md").read_text()


def test_every_bundled_provider_has_a_row_and_a_section() -> None:
    page = _generator().render(bundled_providers())
    for defn in bundled_providers():
        assert f"| [{defn.display_name}](#{defn.name}) | `{defn.name}` |" in page
        assert f'<a id="{defn.name}"></a>' in page
    assert "*not injected*" in page  # semrush
    assert "Alternative to [`github`](#github)" in page
    assert "Authorization: Basic base64(:<key>)" in page  # lemlist
