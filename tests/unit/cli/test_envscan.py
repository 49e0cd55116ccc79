"""Reading .env files and shell exports; detection by variable name and key pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from authsome.cli.envscan import (
    Finding,
    Rule,
    env_files,
    parse_assignments,
    parse_value,
    scan_environment,
    scan_files,
)

RULES = [
    Rule("openai", ("OPENAI_API_KEY",), r"sk-[A-Za-z0-9_-]{20,}"),
    Rule("plain", ("PLAIN_KEY", "PLAIN_TOKEN"), None),
]


@pytest.mark.parametrize(
    "raw,value",
    [
        ("abc", "abc"),
        ("abc # comment", "abc"),
        ("abc#not-a-comment", "abc#not-a-comment"),
        ("'a b $c \\n'", "a b $c \\n"),
        ('"a \\"b\\" \\n c\\\\"', 'a "b" \n c\\'),
        ('"unterminated', None),
        ("'unterminated", None),
        ("", ""),
    ],
)
def test_values(raw: str, value: str | None) -> None:
    assert parse_value(raw) == value


def test_assignments_with_exports_comments_and_spaces() -> None:
    text = "# c\nA=1\nexport B='two'\n  export C = \"3\"\nnot an assignment\n#D=4\nE=\n"
    assert list(parse_assignments(text)) == [
        (2, "A", "1"),
        (3, "B", "two"),
        (4, "C", "3"),
        (7, "E", ""),
    ]


def test_env_files_skip_vendored_folders(tmp_path: Path) -> None:
    for name in (".env", ".env.local", ".envrc", "sub/.env.production", "env.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / ".env").write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in env_files(tmp_path)]
    assert found == [".env", ".env.local", ".envrc", "sub/.env.production"]
    assert list(env_files(tmp_path / ".env")) == [tmp_path / ".env"]


def test_detection_needs_the_name_and_the_pattern(tmp_path: Path) -> None:
    key = "sk-" + "a" * 30
    (tmp_path / ".env").write_text(
        f"OPENAI_API_KEY={key}\nOPENAI_API_KEY=authsome-managed\nOPENAI_API_KEY=short\n"
        "PLAIN_KEY=$FROM_ELSEWHERE\nOTHER=sk-" + "b" * 30 + "\n"
    )
    (tmp_path / ".env.local").write_text("export PLAIN_TOKEN='any value at all'\n")
    found = scan_files(tmp_path, RULES)
    assert [(Path(f.source).name, f.line, f.variable, f.provider) for f in found] == [
        (".env", 1, "OPENAI_API_KEY", "openai"),
        (".env.local", 1, "PLAIN_TOKEN", "plain"),
    ]
    assert found[0].value == key and key not in repr(found[0])


def test_environment_and_fingerprints() -> None:
    found = scan_environment({"PLAIN_KEY": "secret-value", "HOME": "/root"}, RULES)
    assert found == [Finding("environment", None, "PLAIN_KEY", "plain", "secret-value")]
    assert found[0].fingerprint.startswith("sha256:") and len(found[0].fingerprint) == 19
    assert found[0].sha256 != Finding("e", None, "PLAIN_KEY", "plain", "secret-valuf").sha256
