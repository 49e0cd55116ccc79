"""``authsome scan [PATH]``: provider keys lying around, compared with the vault.

Values are never printed or sent anywhere: the daemon gets each key's
SHA-256 to say whether it is new, the same as a stored key, or different.
``--import`` stores the keys the vault lacks (over the usual login path).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from authsome.cli.envscan import Finding, Rule, scan_environment, scan_files
from authsome.cli.output import emit_json, json_option, say, table

STATUS_TEXT = {"new": "new", "same": "same as vault", "differs": "differs from vault"}


def _import_name(finding: Finding, status: str, taken: set[str]) -> str | None:
    """``default`` for a provider's first new key; ``imported-<fp>`` for the others."""
    if status == "same":
        return None
    name = "default" if status == "new" and finding.provider not in taken else None
    taken.add(finding.provider)
    return name or f"imported-{finding.sha256[:8]}"


def _store(
    client: Any, findings: list[Finding], drift: list[dict[str, Any]]
) -> list[dict[str, str]]:
    imported: list[dict[str, str]] = []
    taken: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for finding, result in zip(findings, drift, strict=True):
        if (finding.provider, finding.sha256) in seen:
            continue
        seen.add((finding.provider, finding.sha256))
        name = _import_name(finding, result["status"], taken)
        if name is None:
            continue
        client.login_api_key(finding.provider, finding.value, connection=name)
        imported.append(
            {"provider": finding.provider, "connection": name, "fingerprint": finding.fingerprint}
        )
    return imported


@click.command("scan")
@click.argument(
    "path", required=False, type=click.Path(exists=True, path_type=Path), default=Path(".")
)
@click.option("--import", "do_import", is_flag=True, help="Store the keys your vault lacks.")
@click.option("--no-environment", is_flag=True, help="Do not look at environment variables.")
@json_option
def scan(path: Path, do_import: bool, no_environment: bool, as_json: bool) -> None:
    """Find provider keys in .env files and the environment; compare with the vault.

    Looks in .env* files under PATH (default: here). Prints where each key is,
    a fingerprint and whether the vault has it; never the key itself.
    """
    from authsome.cli.clients import connect

    with connect() as client:
        rules = [
            Rule(r["provider"], tuple(r["variables"]), r["key_pattern"])
            for r in client.scan_rules()
        ]
        findings = scan_files(path, rules)
        if not no_environment:
            findings += scan_environment(os.environ, rules)
        drift = client.scan_compare([(f.provider, f.sha256) for f in findings]) if findings else []
        imported = _store(client, findings, drift) if do_import else []
    rows = [
        {
            "source": f.source,
            "line": f.line,
            "variable": f.variable,
            "provider": f.provider,
            "fingerprint": f.fingerprint,
            "status": d["status"],
            "connection": d["connection"],
        }
        for f, d in zip(findings, drift, strict=True)
    ]
    if as_json:
        emit_json({"findings": rows, "imported": imported})
        return
    _report(rows, imported, do_import)


def _report(rows: list[dict[str, Any]], imported: list[dict[str, str]], do_import: bool) -> None:
    table(
        ("SOURCE", "VARIABLE", "PROVIDER", "FINGERPRINT", "STATUS"),
        [
            (
                r["source"] + (f":{r['line']}" if r["line"] else ""),
                r["variable"],
                r["provider"],
                r["fingerprint"],
                STATUS_TEXT[r["status"]] + (f" ({r['connection']})" if r["connection"] else ""),
            )
            for r in rows
        ],
        empty="no provider keys found",
    )
    for item in imported:
        say(f"imported {item['fingerprint']} as {item['provider']}/{item['connection']}")
    if not do_import and any(r["status"] != "same" for r in rows):
        say("store the new ones with: authsome scan --import")


COMMANDS = [scan]
