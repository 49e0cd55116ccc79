"""Finding provider keys in ``.env*`` files and the environment (for ``authsome scan``).

Pure functions, no daemon: the rules (variable names and key patterns per
provider) come in, findings go out. A finding keeps the value only in
memory, to fingerprint it and to import it on request; its ``repr`` never
shows it.

Understood line forms: ``NAME=value``, ``export NAME=value``, values in
single quotes (literal), double quotes (``\\n``, ``\\"``, ``\\\\``, ``\\$`` and
backtick escapes) or bare (an inline `` #`` starts a comment). A quoted
value may span lines, as ``authsome export --format dotenv`` writes a value
with a newline.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Directories never worth walking into.
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache"}
)
MAX_FILE_BYTES = 1024 * 1024
PLACEHOLDER = "authsome-managed"
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=[ \t]*(.*)$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$", "`": "`"}


@dataclass(frozen=True)
class Rule:
    provider: str
    variables: tuple[str, ...]
    key_pattern: str | None


@dataclass(frozen=True)
class Finding:
    source: str  # a file path, or "environment"
    line: int | None
    variable: str
    provider: str
    value: str = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()

    @property
    def fingerprint(self) -> str:
        """Enough to tell keys apart, not enough to use one."""
        return f"sha256:{self.sha256[:12]}"


def env_files(root: Path) -> Iterator[Path]:
    """``.env``, ``.env.local``, ``.envrc`` … under ``root`` (or ``root`` itself if a file)."""
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.startswith(".env"):
                yield Path(folder) / name


def _double_quoted(raw: str) -> str | None:
    out, i = [], 1
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            out.append(_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
            i += 2
            continue
        if ch == '"':
            return "".join(out)
        out.append(ch)
        i += 1
    return None  # unterminated


def parse_value(raw: str) -> str | None:
    """The value of one assignment's right-hand side; None when it cannot be read."""
    if raw.startswith("'"):
        end = raw.find("'", 1)
        return raw[1:end] if end > 0 else None
    if raw.startswith('"'):
        return _double_quoted(raw)
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def parse_assignments(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, name, value) for each assignment in a dotenv or shell file."""
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        start, line = index, lines[index]
        index += 1
        match = None if line.lstrip().startswith("#") else _LINE.match(line)
        if match is None:
            continue
        raw = match.group(2)
        value = parse_value(raw)
        while value is None and raw[:1] in ("'", '"') and index < len(lines):
            raw += "\n" + lines[index]  # a quoted value going on over the next lines
            index += 1
            value = parse_value(raw)
        if value is None:
            index = start + 1  # never closed: only this line is unreadable
            continue
        yield start + 1, match.group(1), value


def _looks_like_key(rule: Rule, value: str) -> bool:
    if not value or value == PLACEHOLDER or value.startswith("$"):
        return False
    return rule.key_pattern is None or re.fullmatch(rule.key_pattern, value) is not None


def _by_variable(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    index: dict[str, list[Rule]] = {}
    for rule in rules:
        for variable in rule.variables:
            index.setdefault(variable, []).append(rule)
    return index


def _detect(
    index: dict[str, list[Rule]], source: str, items: Iterable[tuple[int | None, str, str]]
) -> Iterator[Finding]:
    for line, name, value in items:
        for rule in index.get(name, []):
            if _looks_like_key(rule, value):
                yield Finding(source, line, name, rule.provider, value)


def scan_files(root: Path, rules: Iterable[Rule]) -> list[Finding]:
    index = _by_variable(rules)
    found: list[Finding] = []
    for path in env_files(root):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            text = path.read_text(errors="replace")
        except OSError:
            continue
        found.extend(_detect(index, str(path), parse_assignments(text)))
    return found


def scan_environment(environ: Mapping[str, str], rules: Iterable[Rule]) -> list[Finding]:
    items = ((None, name, value) for name, value in sorted(environ.items()))
    return list(_detect(_by_variable(rules), "environment", items))
